"""Typing with command-line tools: xdotool and the clipboard into a real window under Xvfb;
wtype (it needs Wayland) through a stand-in that records its arguments. The uinput tools
(ydotool, dotool) are in test_uinput_typists.py."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.core.settings import TypingMethod
from app.core.voice_edits import Key
from app.desktop.typists.base import TypingError
from app.desktop.typists.choose import open_typist
from app.desktop.typists.command import WTYPE, XDOTOOL, CommandTypist
from tests.support.target_window import focused_target, wait_for_text
from tests.support.xvfb import xvfb

ROOT = Path(__file__).resolve().parents[2]
TEXT = "naïve café “quoted” ß€ …"
# What a stand-in does: record the locale it got and its arguments, NUL-separated.
RECORD_ARGV = 'printf "%s\\0" "$LC_ALL" "$@" > "$RECORD"'


@pytest.fixture(scope="module")
def display() -> Iterator[str]:
    for tool in ("xdotool", "xclip"):
        if shutil.which(tool) is None:
            pytest.fail(f"{tool} is missing: run the README's test command (tests/run)")
    with xvfb(57) as name:
        yield name


@pytest.fixture
def x_env(display: str) -> dict[str, str]:
    return {**os.environ, "DISPLAY": display, "QT_QPA_PLATFORM": "xcb"}


def clipboard(env: dict[str, str]) -> str:
    done = subprocess.run(
        ["xclip", "-selection", "clipboard", "-out"], env=env, capture_output=True, check=True
    )
    return done.stdout.decode()


def set_clipboard(env: dict[str, str], text: str) -> None:
    subprocess.run(
        ["xclip", "-selection", "clipboard", "-in"],
        input=text.encode(),
        env=env,
        stdout=subprocess.DEVNULL,  # xclip stays behind to serve the text: no pipes
        stderr=subprocess.DEVNULL,
        check=True,
    )
    deadline = time.monotonic() + 5
    while clipboard(env) != text and time.monotonic() < deadline:
        time.sleep(0.01)


def stand_in(bin_dir: Path, program: str, script: str) -> None:
    bin_dir.mkdir(exist_ok=True)
    path = bin_dir / program
    path.write_text(f"#!/bin/sh\n{script}\n", encoding="utf-8")
    path.chmod(0o755)


def test_xdotool_types_unicode_exactly(x_env: dict[str, str], tmp_path: Path) -> None:
    out = tmp_path / "typed.txt"
    with focused_target(x_env, out):
        typist = open_typist(TypingMethod.XDOTOOL, {**x_env, "LC_ALL": "C"})
        assert typist.name == "xdotool"
        typist.type("naïve café")
        typist.type(" “quoted” ß€ …")
        typist.close()
        assert wait_for_text(out, TEXT) == TEXT


@pytest.mark.parametrize("method", [TypingMethod.XDOTOOL, TypingMethod.CLIPBOARD])
def test_scratch_and_keys_reach_a_real_window(
    x_env: dict[str, str], tmp_path: Path, method: TypingMethod
) -> None:
    """Deleting counts characters, not bytes: the scratched "café…" is five BackSpaces."""
    out = tmp_path / "typed.txt"
    with focused_target(x_env, out):
        typist = open_typist(method, x_env)
        typist.type("first. café…")
        assert wait_for_text(out, "first. café…") == "first. café…"
        typist.delete(len(" café…"))
        typist.press(Key.RETURN)
        typist.type("x")
        typist.press(Key.TAB)
        typist.type("y")
        typist.close()
        assert wait_for_text(out, "first.\nx\ty") == "first.\nx\ty"


def test_wtype_presses_keys_as_its_manual_says(tmp_path: Path) -> None:
    """wtype(1): ``-k KEY`` presses and releases a key, ``-M``/``-m`` hold and release a
    modifier (the stand-in records the arguments; wtype needs a Wayland compositor)."""
    record = tmp_path / "argv"
    stand_in(tmp_path / "bin", "wtype", RECORD_ARGV)
    typist = CommandTypist(WTYPE, {"PATH": str(tmp_path / "bin"), "RECORD": str(record)})
    calls = []
    for act in (lambda: typist.delete(2), lambda: typist.press(Key.SHIFT_RETURN)):
        act()
        calls.append(record.read_text().split("\0")[1:-1])
    assert calls == [
        ["-s", "30", "-k", "BackSpace", "-k", "BackSpace"],
        ["-s", "30", "-M", "shift", "-k", "Return", "-m", "shift"],
    ]


@pytest.mark.parametrize("previous", ["what the user copied: “ünïcode”", ""])
def test_clipboard_pastes_and_gives_the_previous_text_back(
    x_env: dict[str, str], tmp_path: Path, previous: str
) -> None:
    set_clipboard(x_env, previous)
    out = tmp_path / "typed.txt"
    with focused_target(x_env, out):
        typist = open_typist(TypingMethod.CLIPBOARD, x_env)
        assert typist.name == "clipboard"
        typist.type(TEXT)
        assert wait_for_text(out, TEXT) == TEXT
        assert clipboard(x_env) == previous
        typist.close()


@pytest.mark.parametrize(
    ("method", "env", "message"),
    [
        (TypingMethod.XDOTOOL, {}, "xdotool is not installed: apt install xdotool"),
        (TypingMethod.WTYPE, {}, "wtype is not installed: apt install wtype"),
        (TypingMethod.YDOTOOL, {}, "ydotool is not installed: apt install ydotool"),
        (TypingMethod.CLIPBOARD, {"DISPLAY": ":57"}, "xclip is not installed: apt install xclip"),
        (
            TypingMethod.CLIPBOARD,
            {"WAYLAND_DISPLAY": "wayland-0"},
            "wl-paste is not installed: apt install wl-clipboard",
        ),
    ],
)
def test_a_missing_tool_names_its_package(
    tmp_path: Path, method: TypingMethod, env: dict[str, str], message: str
) -> None:
    with pytest.raises(TypingError, match=message):
        open_typist(method, {**env, "PATH": str(tmp_path)})


def test_a_failing_tool_reports_its_first_line_of_error(tmp_path: Path) -> None:
    stand_in(tmp_path / "bin", "xdotool", "echo 'Error: it broke' >&2; echo more >&2; exit 1")
    typist = CommandTypist(XDOTOOL, {"PATH": str(tmp_path / "bin")})
    with pytest.raises(TypingError, match=r"^xdotool failed: Error: it broke$"):
        typist.type("x")


def test_real_xdotool_without_a_display_says_so() -> None:
    typist = open_typist(TypingMethod.XDOTOOL, {**os.environ, "DISPLAY": ":1234"})
    with pytest.raises(TypingError, match=r"xdotool failed: .*display"):
        typist.type("x")


@pytest.mark.parametrize(
    ("method", "before_text"),
    [
        (TypingMethod.WTYPE, ["-s", "30", "--"]),
        (TypingMethod.XDOTOOL, ["type", "--clearmodifiers", "--delay", "12", "--"]),
    ],
)
def test_the_text_is_one_argument_after_dashes(
    tmp_path: Path, method: TypingMethod, before_text: list[str]
) -> None:
    record = tmp_path / "argv"
    stand_in(tmp_path / "bin", method.value, RECORD_ARGV)
    path = f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}"
    typist = open_typist(method, {"PATH": path, "RECORD": str(record), "LANG": "C"})
    assert typist.name == method.value
    typist.type("")
    assert not record.exists()
    for text in ["  -leading spaces", "naïve “café” ß€ …\ttab\nline 🙂", "--", " "]:
        typist.type(text)
        locale, *argv = record.read_bytes().decode().split("\0")[:-1]
        assert argv == [*before_text, text]
        assert locale == "C.UTF-8"  # the tools decode their argument with the locale


def test_a_utf8_locale_is_left_as_it_is(tmp_path: Path) -> None:
    record = tmp_path / "argv"
    stand_in(tmp_path / "bin", "wtype", RECORD_ARGV)
    env = {"PATH": str(tmp_path / "bin"), "RECORD": str(record), "LANG": "de_DE.UTF-8"}
    open_typist(TypingMethod.WTYPE, env).type("ä")
    assert record.read_bytes().decode().split("\0")[:-1] == ["", "-s", "30", "--", "ä"]
