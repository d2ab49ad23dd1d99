"""Paste fallback: put the text on the clipboard, press Ctrl+V, put the old clipboard back.

For windows that no typing backend reaches. X11: ``xclip`` and ``xdotool key``; Wayland:
``wl-copy``/``wl-paste`` (wl-clipboard) and ``wtype``. Voice commands' keys (BackSpace for
"scratch that", Return, Tab) are pressed with the same key tool, never through the clipboard.

Limits: only text is saved and restored (an image or rich text comes back as its plain text,
or as an empty clipboard if it had no text); the target must paste on Ctrl+V (terminals want
Ctrl+Shift+V); the old text returns after ``restore_after`` seconds, so a target slower than
that to read the clipboard pastes the old text; clipboard managers record every phrase.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass

from app.core.voice_edits import Key
from app.desktop.typists.base import TypingError
from app.desktop.typists.command import (
    WTYPE,
    XDOTOOL,
    CommandFailed,
    CommandTypist,
    Tool,
    TypingCommand,
    require,
    run_tool,
    tool_env,
)

READ_TIMEOUT = 2.0  # seconds for the clipboard owner to answer
TAKE_TIMEOUT = 2.0  # seconds for a new clipboard text to be readable

Command = tuple[Tool, tuple[str, ...]]


@dataclass(frozen=True)
class Clipboard:
    """The commands that read, write (text on stdin), clear and paste in one kind of session."""

    read: Command
    write: Command
    clear: Command
    paste: Command
    keys: TypingCommand  # presses BackSpace, Return, Tab


XCLIP = Tool("xclip", "xclip")
WL_COPY = Tool("wl-copy", "wl-clipboard")
WL_PASTE = Tool("wl-paste", "wl-clipboard")

X11_CLIPBOARD = Clipboard(
    read=(XCLIP, ("-selection", "clipboard", "-out")),
    write=(XCLIP, ("-selection", "clipboard", "-in")),
    clear=(XCLIP, ("-selection", "clipboard", "-in")),  # empty input: an empty text
    paste=(XDOTOOL.tool, ("key", "--clearmodifiers", "ctrl+v")),
    keys=XDOTOOL,
)
WAYLAND_CLIPBOARD = Clipboard(
    read=(WL_PASTE, ("--no-newline", "--type", "text")),
    write=(WL_COPY, ()),
    clear=(WL_COPY, ("--clear",)),
    paste=(WTYPE.tool, ("-M", "ctrl", "-k", "v", "-m", "ctrl")),
    keys=WTYPE,
)


class ClipboardTypist:
    """Pastes each text: ``ClipboardTypist(X11_CLIPBOARD).type("café")``."""

    name = "clipboard"
    can_press = True

    def __init__(
        self,
        clipboard: Clipboard,
        env: Mapping[str, str] | None = None,
        *,
        restore_after: float = 0.3,
    ) -> None:
        self._clipboard = clipboard
        self._env = tool_env(env)
        self._restore_after = restore_after
        for tool, _ in (clipboard.read, clipboard.write, clipboard.clear, clipboard.paste):
            require(tool, self._env)
        self._keys = CommandTypist(clipboard.keys, self._env)

    def type(self, text: str) -> None:
        """Paste ``text``, then give the clipboard its previous text back."""
        if not text:
            return
        previous = self._read()
        try:
            self._put(text)
            tool, args = self._clipboard.paste
            run_tool(tool, args, self._env)
            time.sleep(self._restore_after)  # the target reads the clipboard after the keys
        finally:
            self._put(previous)

    def delete(self, count: int) -> None:
        """Delete the ``count`` characters before the cursor (BackSpace, not the clipboard)."""
        self._keys.delete(count)

    def press(self, key: Key) -> None:
        self._keys.press(key)

    def close(self) -> None:
        """Nothing to release: the clipboard already holds its previous text."""

    def _read(self) -> str | None:
        """The clipboard's text; None when it is empty or holds no text."""
        tool, args = self._clipboard.read
        try:
            return run_tool(tool, args, self._env, timeout=READ_TIMEOUT)
        except CommandFailed:
            return None

    def _put(self, text: str | None) -> None:
        """Put ``text`` on the clipboard (None: clear it) and wait until it reads back."""
        tool, args = self._clipboard.write if text else self._clipboard.clear
        run_tool(tool, args, self._env, stdin=text or "")
        deadline = time.monotonic() + TAKE_TIMEOUT
        while (self._read() or "") != (text or ""):
            if time.monotonic() > deadline:
                raise TypingError(f"the clipboard did not take the text from {tool.program}")
            time.sleep(0.01)
