"""Typing on Windows and macOS with pynput's keyboard controller.

pynput is imported when the typist is made, not with this module: on Linux it needs a display
at import. On X11 its ``type()`` garbles non-ASCII text (see
:mod:`app.desktop.typists.xtest`), so it is not used there. On macOS the app needs the
Accessibility permission, or the keys are silently dropped.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from app.core.voice_edits import Key
from app.desktop.typists.base import TypingError

if TYPE_CHECKING:
    from pynput.keyboard import Key as PynputKey


class PynputTypist:
    """``PynputTypist().type("naïve café")``."""

    name = "pynput"
    can_press = True

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

    def delete(self, count: int) -> None:
        """Delete the ``count`` characters before the cursor, one BackSpace each."""
        from pynput.keyboard import Key as PynputKey

        for _ in range(count):
            self._tap(PynputKey.backspace)

    def press(self, key: Key) -> None:
        """Press Return, Tab or Shift+Return."""
        from pynput.keyboard import Key as PynputKey

        if key is Key.SHIFT_RETURN:
            with self._keyboard.pressed(PynputKey.shift):
                self._tap(PynputKey.enter)
        else:
            self._tap(PynputKey.tab if key is Key.TAB else PynputKey.enter)

    def _tap(self, key: PynputKey) -> None:
        try:
            self._keyboard.tap(key)
        except Exception as error:
            raise TypingError(f"pynput could not press {key}: {error}") from None

    def close(self) -> None:
        """Nothing to release."""
