"""Typing through uinput tools: ydotool (0.1.8, Debian 12's, and 1.x) and dotool.

Both send key codes, not characters: what comes out depends on the keyboard layout, so each
text is checked first (``app.core.typing_reach``) and held, with the reason, when it would
come out wrong (the desktop's layout: XKB_DEFAULT_LAYOUT, GNOME's input sources through
gsettings, KDE's kxkbrc). The text goes on standard input, never on the command line: ydotool 1.x
reads escapes (``\\n``) in its arguments, and dotool takes only stdin.

Command lines, from the tools' sources:
- ydotool 0.1.8 (ReimuNotMoe/ydotool, tag v0.1.8, Tools/Type/Type.cpp, Client/ydotool.cpp):
  boost options ``--delay`` (default 100 ms before typing), ``--key-delay``, ``--file`` ('-'
  or a path); it reports errors on stderr ("ydotool: type: error: ...") and still exits 0.
- ydotool 1.x (tags v1.0.0 to v1.0.4, Client/tool_type.c, Client/ydotool.c): getopt
  ``-d/--key-delay``, ``-D/--next-delay``, ``-f/--file``, and from 1.0.4 ``-H``, ``-e``;
  1.0.0 swaps what -d and -D mean, so only ``--file`` is used. It types through ydotoold's
  socket (YDOTOOL_SOCKET, else $XDG_RUNTIME_DIR/.ydotool_socket, else /tmp/.ydotool_socket).
- Which one is installed: ``ydotool help`` in 1.x ends with a line about YDOTOOL_SOCKET
  (stdout, exit 0); 0.1.8 prints "Usage: ydotool <cmd> <args>" on stderr and exits 1.
- dotool (git.sr.ht/~geb/dotool, doc/dotool.1.scd and dotool.go): actions on stdin, one per
  line: ``type TEXT``, ``key CHORD...`` (``enter``, ``tab``); options only ``-h``,
  ``--list-keys``, ``--list-x-keys``, ``--version``, ``--keyboard-name``; arguments are
  refused. DOTOOL_XKB_LAYOUT names the layout it makes key codes for.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path

from app.core.keyboard_layout import gnome_layout, kde_layout, pick_layout
from app.core.settings import TypingMethod
from app.core.typing_reach import cannot_type, tool_layout
from app.core.voice_edits import Key
from app.desktop.typists.base import TypingError
from app.desktop.typists.command import Tool, require, run_tool, tool_env

YDOTOOL = Tool(
    "ydotool",
    "ydotool",
    "ydotool needs ydotoold running: `systemctl --user enable --now ydotool` or start "
    "`ydotoold`, and YDOTOOL_SOCKET set if its socket is not the default",
)
DOTOOL = Tool("dotool", "dotool", "dotool needs write access to /dev/uinput (the input group)")
# dotool's key names are Linux's KEY_* names in lower case (dotool.go); chords join with "+"
DOTOOL_KEYS = {Key.RETURN: "enter", Key.TAB: "tab", Key.SHIFT_RETURN: "shift+enter"}

YDOTOOL_0_1 = "0.1"  # Debian 12's 0.1.8
YDOTOOL_1 = "1"


def ydotool_generation(env: Mapping[str, str]) -> str:
    """``"0.1"`` or ``"1"``: which ydotool command line the installed one takes."""
    path = require(YDOTOOL, env)
    try:
        done = subprocess.run(
            [path, "help"], capture_output=True, env=dict(env), timeout=5, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        raise TypingError(f"ydotool could not run: {error}") from None
    said = (done.stdout + done.stderr).decode(errors="replace")
    if "YDOTOOL_SOCKET" in said:
        return YDOTOOL_1
    if "Usage: ydotool" in said:
        return YDOTOOL_0_1
    raise TypingError(f"ydotool answered 'ydotool help' in a way not known here: {said[:80]!r}")


def desktop_layout(env: Mapping[str, str]) -> str:
    """The desktop's keyboard layout ("" if not known): XKB_DEFAULT_LAYOUT, else GNOME's
    first input source (gsettings), else KDE's first layout (kxkbrc)."""
    desktops = set(env.get("XDG_CURRENT_DESKTOP", "").upper().split(":"))
    setting = ""
    gsettings = shutil.which("gsettings", path=env.get("PATH"))
    if "GNOME" in desktops and gsettings:
        try:
            done = subprocess.run(
                [gsettings, "get", "org.gnome.desktop.input-sources", "sources"],
                capture_output=True,
                env=dict(env),
                timeout=5,
                check=False,
            )
            setting = gnome_layout(done.stdout.decode(errors="replace"))
        except (OSError, subprocess.TimeoutExpired):
            setting = ""
    elif "KDE" in desktops:
        config = env.get("XDG_CONFIG_HOME") or str(
            Path(env.get("HOME", "~")).expanduser() / ".config"
        )
        try:
            setting = kde_layout((Path(config) / "kxkbrc").read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError):
            setting = ""
    return pick_layout(env, setting)


def ydotool_args(generation: str) -> list[str]:
    """The arguments that make this generation of ydotool type its standard input."""
    if generation == YDOTOOL_0_1:
        return ["type", "--delay", "0", "--file", "-"]
    return ["type", "--file", "/dev/stdin"]  # 1.0.0 has no '-' for stdin


def dotool_script(text: str) -> str:
    """dotool's actions that type ``text``: a line per piece, Return and Tab as keys."""
    lines = []
    for number, line in enumerate(text.split("\n")):
        if number:
            lines.append("key enter")
        for part_number, part in enumerate(line.split("\t")):
            if part_number:
                lines.append("key tab")
            if part:
                lines.append(f"type {part}")
    return "".join(f"{line}\n" for line in lines)


class UinputTypist:
    """ydotool or dotool; the text must be on the keyboard layout they make key codes for."""

    def __init__(self, method: TypingMethod, env: Mapping[str, str] | None = None) -> None:
        if method not in (TypingMethod.YDOTOOL, TypingMethod.DOTOOL):
            raise ValueError(method)
        self._method = method
        self._env = tool_env(env)
        self._tool = YDOTOOL if method is TypingMethod.YDOTOOL else DOTOOL
        require(self._tool, self._env)
        self._generation = ydotool_generation(self._env) if self._tool is YDOTOOL else ""
        self._desktop_layout = desktop_layout(self._env)
        self._assumed = tool_layout(method, self._env.get("DOTOOL_XKB_LAYOUT", ""))

    @property
    def name(self) -> str:
        return self._tool.program

    def type(self, text: str) -> None:
        """Type ``text``; TypingError (nothing typed) if the layout cannot give it exactly."""
        if not text:
            return
        why = cannot_type(self._method, text, self._desktop_layout, self._assumed)
        if why is not None:
            raise TypingError(why)
        timeout = 10 + 0.1 * len(text)
        if self._tool is DOTOOL:
            run_tool(
                DOTOOL,
                [],
                self._env,
                stdin=dotool_script(text),
                timeout=timeout,
                error_mark="dotool",
            )
        else:
            run_tool(
                YDOTOOL,
                ydotool_args(self._generation),
                self._env,
                stdin=text,
                timeout=timeout,
                error_mark="ydotool: type: error",
            )

    @property
    def can_press(self) -> bool:
        """dotool presses keys (delete, press); this app does not press keys with ydotool,
        whose key command differs between its versions (a new line is typed as text)."""
        return self._tool is DOTOOL

    def delete(self, count: int) -> None:
        """Delete the ``count`` characters before the cursor, one BackSpace each (dotool)."""
        if count < 0:
            raise ValueError(f"cannot delete a negative count of characters: {count}")
        self._dotool_keys(["backspace"] * count)

    def press(self, key: Key) -> None:
        """Press Return, Tab or Shift+Return (dotool)."""
        self._dotool_keys([DOTOOL_KEYS[key]])

    def _dotool_keys(self, chords: list[str]) -> None:
        if self._tool is not DOTOOL:
            raise TypingError(f"{self.name} does not press keys here")
        if chords:
            script = "".join(f"key {chord}\n" for chord in chords)
            run_tool(DOTOOL, [], self._env, stdin=script, timeout=10, error_mark="dotool")

    def close(self) -> None:
        """Nothing to release: each text is a separate run."""
