"""What every typing backend offers, and the one error they raise."""

from __future__ import annotations

from typing import Protocol

from app.core.errors import AppError


class TypingError(AppError):
    """Text cannot be typed; the message says what to do about it."""


class Typist(Protocol):
    """Types text into the focused window.

    ``type`` blocks until the text is sent; it is called from one worker thread, in order.
    Failures raise :class:`TypingError`.
    """

    @property
    def name(self) -> str:
        """The backend's short name, as in the settings (``xtest``, ``xdotool``...)."""
        ...

    def type(self, text: str) -> None:
        """Type ``text`` exactly into the window that has the keyboard focus."""
        ...

    def close(self) -> None:
        """Release what the backend holds (display connection, keymap changes)."""
        ...
