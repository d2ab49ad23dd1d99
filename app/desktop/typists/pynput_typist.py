"""Typing on Windows and macOS with pynput's keyboard controller.

pynput is imported when the typist is made, not with this module: on Linux it needs a display
at import. On X11 its ``type()`` garbles non-ASCII text (see
:mod:`app.desktop.typists.xtest`), so it is not used there. On macOS the app needs the
Accessibility permission, or the keys are silently dropped.
"""

from __future__ import annotations

from app.desktop.typists.base import TypingError


class PynputTypist:
    """``PynputTypist().type("naïve café")``."""

    name = "pynput"

    def __init__(self) -> None:
        try:
            from pynput.keyboard import Controller

            self._keyboard = Controller()
        except Exception as error:  # ImportError, or a backend that cannot start
            raise TypingError(f"pynput cannot type here: {error}") from None

    def type(self, text: str) -> None:
        """Type ``text`` into the window that has the keyboard focus."""
        try:
            self._keyboard.type(text)
        except Exception as error:  # pynput's InvalidCharacterException and OS errors
            raise TypingError(f"pynput could not type {text!r}: {error}") from None

    def close(self) -> None:
        """Nothing to release."""
