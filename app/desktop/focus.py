"""Which window has the keyboard focus, so typing can pause when it moves (the focus guard).

:class:`FocusGuard` is the pure rule. :func:`open_focus_probe` gives the platform's probe:
X11 (python-xlib) and Windows (``GetForegroundWindow``); elsewhere (Wayland, macOS) there is
none and the guard stays off. A probe is used from one thread only.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from app.core.desktop_session import session_kind

log = logging.getLogger(__name__)


class FocusProbe(Protocol):
    def focused_window(self) -> int | None:
        """An id of the focused top-level window (None: cannot tell)."""

    def close(self) -> None: ...


@dataclass
class FocusGuard:
    """Words go to the window that had focus when the dictation began, or are held."""

    window: int | None = None
    held: list[str] = field(default_factory=list)
    typed_any: bool = False  # some words of this dictation reached the window
    typed_chars: int = 0  # characters of this dictation that reached the window
    earlier: str = ""  # held words of earlier dictations, kept until typed or copied

    def begin(self, window: int | None) -> None:
        self.earlier = self.take_held()
        self.window, self.typed_any, self.typed_chars = window, False, 0

    def admit(self, text: str, window_now: int | None) -> bool:
        """True: type ``text`` now. False: it is held, as is every later word of this
        dictation (typing after a gap would put half a sentence in the window)."""
        if self.held or (self.window is not None and window_now != self.window):
            self.held.append(text)
            return False
        self.typed_any = True
        self.typed_chars += len(text)
        return True

    def admit_delete(self, count: int, window_now: int | None) -> int:
        """How many characters to delete in the window for a "scratch that" of ``count``.

        Held words lose theirs first (they never reached the window). Nothing is deleted in
        the window once focus has moved (words are held then), nor beyond what this
        dictation typed there.
        """
        moved = bool(self.held) or (self.window is not None and window_now != self.window)
        while count and self.held:
            last = self.held.pop()
            if len(last) > count:
                self.held.append(last[: len(last) - count])
            count -= min(count, len(last))
        if moved:
            return 0
        count = min(count, self.typed_chars)
        self.typed_chars -= count
        return count

    def held_text(self) -> str:
        """Every held word, as :meth:`take_held` would give them, without forgetting them."""
        current = "".join(self.held)
        if not self.typed_any:
            current = current.lstrip()
        if self.earlier and current:
            return f"{self.earlier} {current.lstrip()}"
        return self.earlier or current

    def take_held(self) -> str:
        """The held words as one text, and forget them. Their leading space is kept when
        they continue words already typed, dropped when they are the whole dictation."""
        text = self.held_text()
        self.held, self.earlier = [], ""
        return text


class X11Focus:
    """The X11 input focus, climbed up to the top-level window that holds it."""

    def __init__(self, display_name: str | None) -> None:
        from Xlib.display import Display

        self._display = Display(display_name)
        self._root = self._display.screen().root

    def focused_window(self) -> int | None:
        window: Any = self._display.get_input_focus().focus
        if not hasattr(window, "query_tree"):  # PointerRoot or None
            return None
        while True:
            parent = window.query_tree().parent
            if not parent or parent.id == self._root.id:
                return int(window.id)
            window = parent

    def close(self) -> None:
        self._display.close()


class WindowsFocus:
    def __init__(self) -> None:
        import ctypes

        self._user32: Any = ctypes.windll.user32  # type: ignore[attr-defined]

    def focused_window(self) -> int | None:
        return int(self._user32.GetForegroundWindow()) or None

    def close(self) -> None:
        pass


def open_focus_probe(env: Mapping[str, str], platform: str = sys.platform) -> FocusProbe | None:
    """The focus probe for this session, or None where focus cannot be read."""
    try:
        if platform == "win32":
            return WindowsFocus()
        if platform.startswith("linux") and session_kind(env) == "x11":
            return X11Focus(env["DISPLAY"])
    except Exception as exc:  # no X connection: type without the guard rather than not at all
        log.warning("cannot read the focused window (%s): the focus guard is off", exc)
    return None
