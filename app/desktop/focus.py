"""Which window has the keyboard focus, so typing can pause when it moves (the focus guard).

:class:`FocusGuard` is the pure rule. :func:`open_focus_probe` gives the platform's probe:
X11 (python-xlib), sway (its IPC socket), Hyprland (``hyprctl activewindow -j``) and Windows
(``GetForegroundWindow``); elsewhere (GNOME and KDE on Wayland, macOS) there is none and the
guard stays off (:func:`~app.core.desktop_session.focus_guard_unavailable` says why). A probe
is used from one thread only.
"""

from __future__ import annotations

import json
import logging
import shutil
import socket
import struct
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from app.core.desktop_session import session_kind, wayland_desktop
from app.core.shortcuts import Desktop
from app.core.window_tree import focused_window

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


class SwayFocus:
    """sway's focused window, asked over its IPC socket (sway-ipc(7): ``"i3-ipc"``, then the
    payload's length and the message type as native 32-bit integers; GET_TREE is 4)."""

    GET_TREE = 4
    _HEADER = struct.Struct("=6sII")

    def __init__(self, path: str) -> None:
        self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._socket.settimeout(2.0)
        self._socket.connect(path)

    def focused_window(self) -> int | None:
        try:
            self._socket.sendall(self._HEADER.pack(b"i3-ipc", 0, self.GET_TREE))
            magic, length, kind = self._HEADER.unpack(self._read(self._HEADER.size))
            if magic != b"i3-ipc" or kind != self.GET_TREE:
                return None
            return focused_window(json.loads(self._read(length)))
        except (OSError, ValueError) as exc:
            log.warning("cannot ask sway for the focused window: %s", exc)
            return None

    def _read(self, size: int) -> bytes:
        data = bytearray()  # a window tree can be large: no copy per chunk
        while len(data) < size:
            chunk = self._socket.recv(size - len(data))
            if not chunk:
                raise OSError("sway closed its IPC socket")
            data += chunk
        return bytes(data)

    def close(self) -> None:
        self._socket.close()


class HyprlandFocus:
    """Hyprland's focused window: the ``address`` of ``hyprctl activewindow -j`` (Hyprland's
    src/debug/HyprCtl.cpp prints ``{}`` when no window has the focus)."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self._env = dict(env)
        self._hyprctl = shutil.which("hyprctl", path=env.get("PATH")) or "hyprctl"

    def focused_window(self) -> int | None:
        try:
            done = subprocess.run(
                [self._hyprctl, "activewindow", "-j"],
                env=self._env,
                capture_output=True,
                text=True,
                timeout=2,
                check=True,
            )
            address = json.loads(done.stdout).get("address")
            return int(address, 16) if isinstance(address, str) else None
        except (OSError, subprocess.SubprocessError, ValueError, AttributeError) as exc:
            log.warning("cannot ask Hyprland for the focused window: %s", exc)
            return None

    def close(self) -> None:
        pass


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
        if platform.startswith("linux") and session_kind(env) == "wayland":
            desktop = wayland_desktop(env)
            if desktop is Desktop.SWAY and env.get("SWAYSOCK"):
                return SwayFocus(env["SWAYSOCK"])
            if desktop is Desktop.HYPRLAND:
                return HyprlandFocus(env)
    except Exception as exc:  # no X connection: type without the guard rather than not at all
        log.warning("cannot read the focused window (%s): the focus guard is off", exc)
    return None
