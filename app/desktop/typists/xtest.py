"""Exact typing on X11: real XTEST key events, with a spare keycode remapped per character.

pynput's ``Controller.type()`` sends synthetic events that some programs ignore and remaps
keycodes in a way that garbles characters (``ß€`` -> ``ßß``, ``日本語`` -> ``日本本``) and leaves
the keymap changed. Here a character already on the keyboard is typed with its own key (and
Shift); any other is bound to one of the keycodes that have no symbol, used in rotation and
never reused before the target has had time to see the previous binding; the keymap is
restored on :meth:`XTestTypist.close`.
"""

from __future__ import annotations

import time
from collections import deque
from typing import Any

from Xlib import XK, X
from Xlib.display import Display
from Xlib.error import DisplayError
from Xlib.ext import xtest

from app.core.voice_edits import Key
from app.desktop.typists.base import TypingError
from app.desktop.typists.keysyms import keysym_for

REUSE_AFTER = 0.05  # seconds before a remapped keycode gets another symbol
SETTLE = 0.1  # seconds the target gets to read the last keys before the keymap changes back
HELD_MODIFIERS = X.ShiftMask | X.ControlMask | X.Mod1Mask | X.Mod4Mask  # Shift Ctrl Alt Super
MODIFIER_POLL = 0.02  # while the user holds modifiers (only then), check this often
MAX_MODIFIER_WAIT = 300.0  # type anyway after this long rather than keep words forever


class XTestTypist:
    """``with XTestTypist() as typist: typist.type("naïve café")``."""

    name = "xtest"
    can_press = True

    def __init__(self, display: str | None = None) -> None:
        try:
            self._display = Display(display)
        except DisplayError as error:
            raise TypingError(f"cannot type with XTEST: {error}") from None
        if not self._display.has_extension("XTEST"):
            raise TypingError("the X server has no XTEST extension")
        info: Any = self._display.display.info
        self._first, last = info.min_keycode, info.max_keycode
        mapping = self._display.get_keyboard_mapping(self._first, last - self._first + 1)
        self._on_keyboard: dict[int, tuple[int, bool]] = {}  # keysym -> (keycode, shift)
        spare = []
        for offset, symbols in enumerate(mapping):
            keycode = self._first + offset
            if not any(symbols):
                spare.append(keycode)
            for level, keysym in enumerate(symbols[:2]):
                if keysym and keysym not in self._on_keyboard:
                    self._on_keyboard[keysym] = (keycode, level == 1)
        if not spare:
            raise TypingError("no spare keycode to bind characters that are not on the keyboard")
        self._spare: deque[int] = deque(spare)
        self._last_used: dict[int, float] = {}
        self._bound: dict[int, int] = {}  # keycode -> keysym bound to it now
        self._shift = self._display.keysym_to_keycode(XK.XK_Shift_L)
        self._caps_lock = self._display.keysym_to_keycode(XK.XK_Caps_Lock) or None
        self._root = self._display.screen().root

    def __enter__(self) -> XTestTypist:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def type(self, text: str) -> None:
        """Type ``text`` into the window that has the keyboard focus.

        Waits while the user holds Shift, Ctrl, Alt or Super (a hotkey chord still down:
        keys typed now would be shortcuts). With Caps Lock on, it is switched off for the
        text and on again after; with another layout group active, every character goes
        through a keycode bound to it, as the keyboard's own keys would give other ones.
        """
        state = self._wait_for_modifiers_released()
        caps_lock = bool(state & X.LockMask) and self._caps_lock is not None
        other_group = bool((state >> 13) & 3)  # XKB group in the core state's bits 13-14
        if caps_lock:
            self._tap(self._caps_lock, False)  # type: ignore[arg-type]
        try:
            for char in text:
                keysym = keysym_for(char)
                if keysym in self._on_keyboard and not other_group:
                    keycode, shift = self._on_keyboard[keysym]
                else:
                    keycode, shift = self._bind(keysym), False
                self._tap(keycode, shift)
        finally:
            if caps_lock:
                self._tap(self._caps_lock, False)  # type: ignore[arg-type]
            self._display.sync()

    def delete(self, count: int) -> None:
        """Delete the ``count`` characters before the cursor (code points this typist typed:
        one key each, Shift or a remapped keycode included), one BackSpace each."""
        if count < 0:
            raise ValueError(f"cannot delete a negative count of characters: {count}")
        self._wait_for_modifiers_released()
        backspace = self._key(XK.XK_BackSpace)
        for _ in range(count):
            self._tap(backspace, False)
        self._display.sync()

    def press(self, key: Key) -> None:
        """Press Return, Tab or Shift+Return (a line break that chat apps do not send)."""
        self._wait_for_modifiers_released()
        keysym = XK.XK_Tab if key is Key.TAB else XK.XK_Return
        self._tap(self._key(keysym), key is Key.SHIFT_RETURN)
        self._display.sync()

    def _key(self, keysym: int) -> int:
        """The keycode of a key on the keyboard, or a spare one bound to it."""
        return int(self._display.keysym_to_keycode(keysym)) or self._bind(keysym)

    def _wait_for_modifiers_released(self) -> int:
        """The keyboard state (core protocol mask) once no modifier is held."""
        deadline = time.monotonic() + MAX_MODIFIER_WAIT
        while True:
            state = int(self._root.query_pointer().mask)
            if not state & HELD_MODIFIERS or time.monotonic() > deadline:
                return state
            time.sleep(MODIFIER_POLL)

    def close(self) -> None:
        """Give the remapped keycodes their empty mapping back."""
        if self._bound:
            self._display.sync()
            time.sleep(SETTLE)
            for keycode in self._bound:
                self._display.change_keyboard_mapping(keycode, [(X.NoSymbol,) * 2])
            self._bound.clear()
        self._display.sync()
        self._display.close()

    def _bind(self, keysym: int) -> int:
        for keycode, bound in self._bound.items():
            if bound == keysym:
                return keycode
        keycode = self._spare[0]
        self._spare.rotate(-1)
        wait = self._last_used.get(keycode, 0.0) + REUSE_AFTER - time.monotonic()
        if wait > 0:
            self._display.sync()
            time.sleep(wait)
        self._display.change_keyboard_mapping(keycode, [(keysym, keysym)])
        self._display.sync()
        self._bound[keycode] = keysym
        return keycode

    def _tap(self, keycode: int, shift: bool) -> None:
        if shift:
            xtest.fake_input(self._display, X.KeyPress, self._shift)
        xtest.fake_input(self._display, X.KeyPress, keycode)
        xtest.fake_input(self._display, X.KeyRelease, keycode)
        if shift:
            xtest.fake_input(self._display, X.KeyRelease, self._shift)
        self._last_used[keycode] = time.monotonic()
