"""Typing by running a command-line tool once per chunk of text: xdotool, wtype.

The text goes to the tool as one argument after ``--`` (no shell), so leading spaces, dashes
and any Unicode reach it unchanged. The tool runs with a UTF-8 locale: xdotool and wtype decode
their argument with the locale and fail on non-ASCII text under ``C``.

Limits: wtype works only on compositors with the virtual-keyboard protocol (Sway, Hyprland
and other wlroots compositors; not GNOME). The uinput tools (ydotool, dotool) are in
``uinput_tools``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import IO

from app.core.voice_edits import Key
from app.desktop.typists.base import TypingError

# A voice command's keys, and BackSpace for "scratch that": X keysym names (xdotool, wtype).
BACKSPACE = "BackSpace"
KEYSYM_NAMES = {Key.RETURN: "Return", Key.TAB: "Tab", Key.SHIFT_RETURN: "Return"}


@dataclass(frozen=True)
class Tool:
    """A command-line program: its name, the package that has it, advice when it fails."""

    program: str
    package: str
    advice: str = ""  # added to the message of a failed run


@dataclass(frozen=True)
class TypingCommand:
    """A tool, the arguments that make it type a text, and (where the tool can press keys)
    those that press a key: ``keys(keysym_name, times, shift)``."""

    tool: Tool
    args: Callable[[str], list[str]]
    keys: Callable[[str, int, bool], list[str]] | None = None


def _xdotool_keys(name: str, times: int, shift: bool) -> list[str]:
    key = f"shift+{name}" if shift else name
    return ["key", "--clearmodifiers", "--delay", "12", "--repeat", str(times), key]


def _wtype_keys(name: str, times: int, shift: bool) -> list[str]:
    # wtype(1): -k presses and releases a named key; -M/-m hold and release a modifier;
    # the leading pause is the text's (below): the keymap upload comes first here too.
    taps = ["-k", name] * times
    keys = ["-M", "shift", *taps, "-m", "shift"] if shift else taps
    return ["-s", str(WTYPE_LEADING_PAUSE_MS), *keys]


XDOTOOL = TypingCommand(
    Tool("xdotool", "xdotool"),
    # 12 ms, xdotool's default: with no delay it drops characters it has to remap.
    # --clearmodifiers: keys the user still holds (a hotkey chord) are lifted while typing.
    lambda text: ["type", "--clearmodifiers", "--delay", "12", "--", text],
    _xdotool_keys,
)
# wtype uploads a keymap for the text's characters, then presses keys. Without a pause
# between the two, sway 1.7 drops the first character of nearly every run (the focused client
# gets the key before the new keymap); 30 ms typed every run exactly (tests/wayland).
WTYPE_LEADING_PAUSE_MS = 30
WTYPE = TypingCommand(
    Tool("wtype", "wtype", "wtype needs a compositor with the virtual-keyboard protocol"),
    lambda text: ["-s", str(WTYPE_LEADING_PAUSE_MS), "--", text],
    _wtype_keys,
)


def tool_env(env: Mapping[str, str] | None) -> dict[str, str]:
    """``env`` (default: this process's) with a UTF-8 locale for the tool's arguments."""
    result = dict(os.environ if env is None else env)
    locale = result.get("LC_ALL") or result.get("LC_CTYPE") or result.get("LANG") or ""
    if "utf-8" not in locale.lower() and "utf8" not in locale.lower():
        result["LC_ALL"] = "C.UTF-8"
    return result


def require(tool: Tool, env: Mapping[str, str]) -> str:
    """The path of ``tool``'s program on ``env``'s PATH; TypingError if it is not there."""
    path = shutil.which(tool.program, path=env.get("PATH", os.defpath))
    if path is None:
        raise TypingError(f"{tool.program} is not installed: apt install {tool.package}")
    return path


class CommandFailed(TypingError):
    """The tool ran and exited with a failure."""


def run_tool(
    tool: Tool,
    args: Sequence[str],
    env: Mapping[str, str],
    *,
    stdin: str | None = None,
    timeout: float = 10.0,
    error_mark: str | None = None,
) -> str:
    """Run ``tool`` with ``args`` and return its standard output.

    Output goes through temporary files, not pipes: xclip and wl-copy leave a process behind
    that keeps them open. A non-zero exit raises :class:`CommandFailed` with the tool's first
    line of error; a tool that cannot start or does not finish raises :class:`TypingError`.
    ``error_mark``: for tools that exit 0 after an error, a line of standard error starting
    with it is a failure too.
    """
    argv = [require(tool, env), *args]
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        try:
            done = subprocess.run(
                argv,
                input=None if stdin is None else stdin.encode(),
                stdin=subprocess.DEVNULL if stdin is None else None,
                stdout=out,
                stderr=err,
                env=dict(env),
                timeout=timeout,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise TypingError(f"{tool.program} did not finish within {timeout:.0f} s") from None
        except OSError as error:
            raise TypingError(f"{tool.program} could not run: {error.strerror}") from None
        stdout, stderr = _read(out), _read(err)
    marked = [line for line in stderr.splitlines() if error_mark and line.startswith(error_mark)]
    if done.returncode != 0 or marked:
        raise CommandFailed(_failure(tool, done.returncode, "\n".join(marked) or stderr, stdout))
    return stdout


def _read(file: IO[bytes]) -> str:
    file.seek(0)
    return file.read().decode(errors="replace")


def _failure(tool: Tool, code: int, stderr: str, stdout: str) -> str:
    """The first line the tool wrote about the failure (ydotool writes it on stdout)."""
    lines = [line.strip() for line in (stderr + "\n" + stdout).splitlines() if line.strip()]
    reason = lines[0] if lines else f"exit status {code}"
    message = f"{tool.program} failed: {reason}"
    return f"{message} ({tool.advice})" if tool.advice else message


class CommandTypist:
    """Types each text with one run of a tool: ``CommandTypist(XDOTOOL).type("café")``."""

    def __init__(self, command: TypingCommand, env: Mapping[str, str] | None = None) -> None:
        self._command = command
        self._env = tool_env(env)
        require(command.tool, self._env)

    @property
    def name(self) -> str:
        return self._command.tool.program

    def type(self, text: str) -> None:
        """Run the tool on ``text``; a long text gets time for its per-key delays."""
        if text:
            args = self._command.args(text)
            run_tool(self._command.tool, args, self._env, timeout=10 + 0.1 * len(text))

    @property
    def can_press(self) -> bool:
        """Whether this tool can press keys (delete and press below)."""
        return self._command.keys is not None

    def delete(self, count: int) -> None:
        """Delete the ``count`` characters before the cursor: one BackSpace per character
        typed (the tools type each code point as one keysym)."""
        if count < 0:
            raise ValueError(f"cannot delete a negative count of characters: {count}")
        if count:
            self._keys(BACKSPACE, count, shift=False)

    def press(self, key: Key) -> None:
        """Press Return, Tab or Shift+Return."""
        self._keys(KEYSYM_NAMES[key], 1, shift=key is Key.SHIFT_RETURN)

    def _keys(self, name: str, times: int, shift: bool) -> None:
        if self._command.keys is None:
            raise TypingError(f"{self.name} cannot press keys")
        args = self._command.keys(name, times, shift)
        run_tool(self._command.tool, args, self._env, timeout=10 + 0.05 * times)

    def close(self) -> None:
        """Nothing to release: each text is a separate run."""
