"""What every typing backend offers, and the one error they raise."""

from __future__ import annotations

from typing import Protocol

from app.core.errors import AppError
from app.core.voice_edits import Key


class TypingError(AppError):
    """Text cannot be typed; the message says what to do about it."""


class Typist(Protocol):
    """Types text into the focused window.

    Every call blocks until the keys are sent; calls come from one worker thread, in order.
    Failures raise :class:`TypingError`.
    """

    @property
    def name(self) -> str:
        """The backend's short name, as in the settings (``xtest``, ``xdotool``...)."""
        ...

    @property
    def can_press(self) -> bool:
        """Whether ``delete`` and ``press`` work with this backend (a tool may lack keys)."""
        ...

    def type(self, text: str) -> None:
        """Type ``text`` exactly into the window that has the keyboard focus."""
        ...

    def delete(self, count: int) -> None:
        """Delete the ``count`` characters before the cursor (one BackSpace a code point)."""
        ...

    def press(self, key: Key) -> None:
        """Press Return, Tab or Shift+Return (a voice command's keys)."""
        ...

    def close(self) -> None:
        """Release what the backend holds (display connection, keymap changes)."""
        ...
