"""ydotool (Debian 12's 0.1.8 and 1.x) and dotool, through strict stand-ins written from their
sources (tests/support/uinput_stand_ins): this machine has no /dev/uinput. Each text goes on
standard input, typed exactly; text off the keyboard layout is held, with why, never typed."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from app.core.settings import TypingMethod
from app.core.status import Status
from app.core.voice_edits import Key
from app.desktop.typing_queue import TypingQueue
from app.desktop.typists.base import TypingError
from app.desktop.typists.choose import open_typist
from app.desktop.typists.command import CommandFailed, run_tool
from app.desktop.typists.uinput_tools import DOTOOL, YDOTOOL, ydotool_generation

STAND_INS = Path(__file__).resolve().parents[1] / "support" / "uinput_stand_ins"
ASCII = "  -Hello, world! a\\nb -- (1+1=2)\n\tend "


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    socket = tmp_path / "ydotool_socket"
    socket.touch()
    uinput = tmp_path / "uinput"
    uinput.touch()
    bin_dir = tmp_path / "bin"  # the stand-ins, run by this Python whatever python3 is
    bin_dir.mkdir()
    for tool in ("ydotool", "dotool"):
        wrapper = bin_dir / tool
        wrapper.write_text(
            f'#!/bin/sh\nexec "{sys.executable}" "{STAND_INS / tool}" "$@"\n', encoding="utf-8"
        )
        wrapper.chmod(0o755)
    return {
        "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
        "YDOTOOL_SOCKET": str(socket),
        "YDOTOOL_STAND_IN_RECORD": str(tmp_path / "ydotool.jsonl"),
        "DOTOOL_STAND_IN_UINPUT": str(uinput),
        "DOTOOL_STAND_IN_RECORD": str(tmp_path / "dotool.jsonl"),
    }


def runs(env: dict[str, str], tool: str) -> list[dict[str, Any]]:
    path = Path(env[f"{tool.upper()}_STAND_IN_RECORD"])
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


@pytest.mark.parametrize(
    ("version", "argv"),
    [
        ("0.1.8", ["type", "--delay", "0", "--file", "-"]),
        ("1.0.0", ["type", "--file", "/dev/stdin"]),
        ("1.0.4", ["type", "--file", "/dev/stdin"]),
    ],
)
def test_ydotool_each_version_types_its_stdin_exactly(
    env: dict[str, str], version: str, argv: list[str]
) -> None:
    env["YDOTOOL_STAND_IN"] = version
    typist = open_typist(TypingMethod.YDOTOOL, env)
    typist.type(ASCII)
    (run,) = runs(env, "ydotool")
    assert run["argv"] == argv
    assert run["typed"] == ASCII  # "\\n" stays two characters: no escapes from a file


def test_the_version_is_told_by_ydotool_help(env: dict[str, str], tmp_path: Path) -> None:
    assert ydotool_generation({**env, "YDOTOOL_STAND_IN": "0.1.8"}) == "0.1"
    assert ydotool_generation({**env, "YDOTOOL_STAND_IN": "1.0.4"}) == "1"
    odd = tmp_path / "odd"
    odd.mkdir()
    (odd / "ydotool").write_text("#!/bin/sh\necho something else\n", encoding="utf-8")
    (odd / "ydotool").chmod(0o755)
    with pytest.raises(TypingError, match="not known here"):
        ydotool_generation({"PATH": str(odd)})


def test_the_old_command_line_would_have_mangled_backslashes_on_1_x(env: dict[str, str]) -> None:
    # Why the text goes on stdin: 1.x reads escapes in its arguments.
    run_tool(YDOTOOL, ["type", "--", "a\\nb"], {**env, "YDOTOOL_STAND_IN": "1.0.4"})
    assert runs(env, "ydotool")[0]["typed"] == "a\nb"


def test_ydotool_0_1_8_errors_exit_0_but_are_still_failures(env: dict[str, str]) -> None:
    env["YDOTOOL_STAND_IN"] = "0.1.8"
    with pytest.raises(CommandFailed, match="unrecognised option '--key-hold'"):
        run_tool(YDOTOOL, ["type", "--key-hold", "5", "x"], env, error_mark="ydotool: type: error")
    assert runs(env, "ydotool") == []


def test_the_stand_ins_refuse_unknown_options(env: dict[str, str]) -> None:
    with pytest.raises(CommandFailed, match=r"not recognized|unrecognized"):
        run_tool(YDOTOOL, ["type", "--bogus", "x"], {**env, "YDOTOOL_STAND_IN": "1.0.4"})
    with pytest.raises(CommandFailed, match="option -e not recognized"):
        run_tool(YDOTOOL, ["type", "-e", "0", "x"], {**env, "YDOTOOL_STAND_IN": "1.0.0"})
    with pytest.raises(CommandFailed, match="there should be no arguments"):
        run_tool(DOTOOL, ["type", "x"], env)
    with pytest.raises(CommandFailed, match="unknown option"):
        run_tool(DOTOOL, ["--delay=2"], env)


def test_ydotool_1_without_its_daemon_says_to_start_it(env: dict[str, str]) -> None:
    env["YDOTOOL_SOCKET"] = env["YDOTOOL_SOCKET"] + ".absent"
    typist = open_typist(TypingMethod.YDOTOOL, env)
    with pytest.raises(TypingError, match="failed to connect socket") as failure:
        typist.type("x")
    assert "ydotoold running" in str(failure.value)


def test_dotool_types_lines_and_tabs_as_keys_exactly(env: dict[str, str]) -> None:
    typist = open_typist(TypingMethod.DOTOOL, env)
    assert typist.name == "dotool"
    typist.type(ASCII)
    typist.type("\n\n")
    first, second = runs(env, "dotool")
    assert first["argv"] == []
    assert first["typed"] == ASCII
    assert second["typed"] == "\n\n"


def test_dotool_scratches_and_presses_keys(env: dict[str, str]) -> None:
    typist = open_typist(TypingMethod.DOTOOL, env)
    typist.type("oops")
    typist.delete(4)
    typist.press(Key.SHIFT_RETURN)
    typist.press(Key.TAB)
    assert [run["typed"] for run in runs(env, "dotool")] == ["oops", "\b\b\b\b", "\n", "\t"]


def test_ydotool_presses_no_keys_here(env: dict[str, str]) -> None:
    """The typing queue types a new line as text for it and does not scratch with it."""
    typist = open_typist(TypingMethod.YDOTOOL, {**env, "YDOTOOL_STAND_IN": "1.0.4"})
    assert not typist.can_press
    with pytest.raises(TypingError, match="does not press keys"):
        typist.delete(1)


def test_dotool_without_uinput_says_so(env: dict[str, str]) -> None:
    env["DOTOOL_STAND_IN_UINPUT"] = env["DOTOOL_STAND_IN_UINPUT"] + ".absent"
    with pytest.raises(TypingError, match=r"dotool failed: dotool: open .*\(dotool needs write"):
        open_typist(TypingMethod.DOTOOL, env).type("x")


@pytest.mark.parametrize("method", [TypingMethod.YDOTOOL, TypingMethod.DOTOOL])
def test_text_off_the_layout_is_held_with_why_and_nothing_typed(
    env: dict[str, str], method: TypingMethod
) -> None:
    with pytest.raises(TypingError, match=r"cannot type 'é' \(U\+00E9\) exactly"):
        open_typist(method, env).type("café")
    with pytest.raises(TypingError, match="the keyboard layout is 'de'"):
        open_typist(method, {**env, "XKB_DEFAULT_LAYOUT": "de"}).type("yes")
    assert runs(env, method.value) == []


def test_dotool_told_the_layout_types_on_it(env: dict[str, str]) -> None:
    desktop = {**env, "XKB_DEFAULT_LAYOUT": "de", "DOTOOL_XKB_LAYOUT": "de"}
    open_typist(TypingMethod.DOTOOL, desktop).type("yes")
    assert runs(env, "dotool")[0]["typed"] == "yes"


async def test_the_typing_queue_holds_text_off_the_layout_and_the_status_says_why(
    env: dict[str, str],
) -> None:
    held: list[tuple[str, str, bool, int | None]] = []
    done = asyncio.Event()
    loop = asyncio.get_running_loop()

    def on_held(text: str, why: str, failed: bool, dictation: int | None) -> None:
        held.append((text, why, failed, dictation))
        loop.call_soon(done.set)

    queue = TypingQueue(lambda: open_typist(TypingMethod.DOTOOL, env), lambda: None, on_held)
    try:
        await asyncio.wrap_future(queue.begin(False, 7))
        await asyncio.wrap_future(queue.type("plain "))
        await asyncio.wrap_future(queue.type("café"))
        await asyncio.wait_for(done.wait(), 10)
        done.clear()
        await asyncio.wrap_future(queue.type_held())  # fails again: no dictation to blame
        await asyncio.wait_for(done.wait(), 10)
    finally:
        await asyncio.to_thread(queue.close)
    assert [run["typed"] for run in runs(env, "dotool")] == ["plain "]
    (text, why, failed, dictation), again = held
    assert (text, failed, dictation) == ("café", True, 7)
    assert "cannot type 'é' (U+00E9) exactly" in why
    assert (again[0], again[2], again[3]) == ("café", True, None)
    assert "cannot type 'é'" in Status(error=why).describe()  # the tray's tooltip


def test_gnome_layout_is_read_with_gsettings_and_text_held_on_it(
    env: dict[str, str], tmp_path: Path
) -> None:
    gnome = {
        **env,
        "XDG_CURRENT_DESKTOP": "ubuntu:GNOME",
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "GSETTINGS_BACKEND": "keyfile",  # real gsettings, its settings in a file of our own
    }
    key = ["org.gnome.desktop.input-sources", "sources"]
    subprocess.run(
        ["gsettings", "set", *key, "[('xkb', 'de'), ('xkb', 'us')]"], env=gnome, check=True
    )
    with pytest.raises(TypingError, match="the keyboard layout is 'de'"):
        open_typist(TypingMethod.YDOTOOL, gnome).type("yes")
    subprocess.run(["gsettings", "set", *key, "[('xkb', 'us')]"], env=gnome, check=True)
    open_typist(TypingMethod.YDOTOOL, gnome).type("yes")
    assert [run["typed"] for run in runs(env, "ydotool")] == ["yes"]


def test_kde_layout_is_read_from_kxkbrc(env: dict[str, str], tmp_path: Path) -> None:
    config = tmp_path / "config"
    config.mkdir()
    (config / "kxkbrc").write_text("[Layout]\nLayoutList=fr,us\nUse=true\n", encoding="utf-8")
    kde = {**env, "XDG_CURRENT_DESKTOP": "KDE", "XDG_CONFIG_HOME": str(config)}
    with pytest.raises(TypingError, match="the keyboard layout is 'fr'"):
        open_typist(TypingMethod.DOTOOL, kde).type("yes")
    assert runs(env, "dotool") == []
