"""The X11 typist types any Unicode text exactly into a real window under Xvfb."""

from __future__ import annotations

import os
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.core.voice_edits import Key
from app.desktop.typists.xtest import XTestTypist
from tests.support.target_window import focused_target, wait_for_text
from tests.support.xvfb import xvfb

ROOT = Path(__file__).resolve().parents[2]
# Strings that pynput's Controller.type() gets wrong on X11 (measured), and more.
HARD = [
    "Hello, world.",
    "ß€ and “quoted” text… Öl",
    "日本語 naïve café Ελληνικά Привет 🙂",
    "mixed CASE with Shift: ABC xyz ?!@#",
    "tabs\tand\nnew lines",
]


@pytest.fixture(scope="module")
def display() -> Iterator[str]:
    with xvfb(91) as name:
        yield name


def keymap(display: str) -> str:
    return subprocess.run(
        ["xmodmap", "-display", display, "-pke"], capture_output=True, text=True, check=True
    ).stdout


def x_env(display: str) -> dict[str, str]:
    return {**os.environ, "DISPLAY": display, "QT_QPA_PLATFORM": "xcb"}


def xdotool(display: str, *args: str) -> None:
    subprocess.run(["xdotool", *args], env={**os.environ, "DISPLAY": display}, check=True)


def caps_lock_on(display: str) -> bool:
    query = subprocess.run(
        ["xset", "q"], env={**os.environ, "DISPLAY": display}, capture_output=True, text=True,
        check=True,
    ).stdout  # fmt: skip
    return "Caps Lock:   on" in query


@pytest.mark.parametrize("text", HARD)
def test_types_exactly_and_restores_the_keymap(display: str, tmp_path: Path, text: str) -> None:
    out = tmp_path / "typed.txt"
    with focused_target(x_env(display), out):
        before = keymap(display)
        with XTestTypist(display) as typist:
            typist.type(text)
        assert wait_for_text(out, text) == text
        assert keymap(display) == before


def test_caps_lock_changes_nothing_and_stays_on(display: str, tmp_path: Path) -> None:
    out = tmp_path / "typed.txt"
    text = "Hello World, é and 日本"
    with focused_target(x_env(display), out):
        xdotool(display, "key", "Caps_Lock")
        try:
            assert caps_lock_on(display)
            with XTestTypist(display) as typist:
                typist.type(text)
            assert wait_for_text(out, text) == text
            assert caps_lock_on(display)
        finally:
            xdotool(display, "key", "Caps_Lock")


def test_typing_waits_while_a_modifier_is_held(display: str, tmp_path: Path) -> None:
    """Ctrl still down (the end of a hotkey chord): typing now would run shortcuts."""
    out = tmp_path / "typed.txt"
    with focused_target(x_env(display), out):
        xdotool(display, "keydown", "ctrl")
        releasing = threading.Event()

        def release() -> None:
            releasing.set()  # before the key goes up: typing cannot have finished yet
            xdotool(display, "keyup", "ctrl")

        released = threading.Timer(0.5, release)  # the user lets go a moment later
        released.start()
        with XTestTypist(display) as typist:
            typist.type("cut nothing")
            assert releasing.is_set()  # type() returned only once Ctrl went up
        released.join()
        assert wait_for_text(out, "cut nothing") == "cut nothing"


def test_deletes_what_it_typed_one_backspace_per_character(display: str, tmp_path: Path) -> None:
    out = tmp_path / "typed.txt"
    with focused_target(x_env(display), out):
        with XTestTypist(display) as typist:
            typist.type("Hello naïve 日本🙂")  # remapped and Shift keys count as one each
            typist.delete(len(" naïve 日本🙂"))
            typist.type(",")
            typist.press(Key.RETURN)
            typist.type("a")
            typist.press(Key.TAB)
            typist.type("b")
        assert wait_for_text(out, "Hello,\na\tb") == "Hello,\na\tb"


def test_delete_refuses_a_negative_count(display: str) -> None:
    with XTestTypist(display) as typist, pytest.raises(ValueError, match="count"):
        typist.delete(-1)
