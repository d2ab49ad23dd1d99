"""The X11 typist types any Unicode text exactly into a real window under Xvfb."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.typists.xtest import XTestTypist
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


@pytest.mark.parametrize("text", HARD)
def test_types_exactly_and_restores_the_keymap(display: str, tmp_path: Path, text: str) -> None:
    out = tmp_path / "typed.txt"
    env = {**os.environ, "DISPLAY": display, "QT_QPA_PLATFORM": "xcb"}
    target = subprocess.Popen(
        [sys.executable, "-m", "tests.support.target_window", str(out)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert target.stdout is not None
        assert target.stdout.readline().strip() == "focused"
        before = keymap(display)
        with XTestTypist(display) as typist:
            typist.type(text)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if out.exists() and out.read_text(encoding="utf-8") == text:
                break
            time.sleep(0.05)
        assert out.read_text(encoding="utf-8") == text
        assert keymap(display) == before
    finally:
        target.terminate()
        target.wait(timeout=10)
