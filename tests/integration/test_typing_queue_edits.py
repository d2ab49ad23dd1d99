"""The typing queue applies voice edits in order, in a real window under Xvfb, with the XTEST
typist and the X11 focus guard."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.core.voice_edits import DeleteEdit, Key, PressEdit
from app.desktop.focus import X11Focus
from app.desktop.typing_queue import TypingQueue
from app.desktop.typists.xtest import XTestTypist
from tests.support.target_window import focused_target, wait_for_text
from tests.support.xvfb import xvfb


@pytest.fixture(scope="module")
def display() -> Iterator[str]:
    with xvfb(93) as name:
        yield name


async def test_words_deletes_and_keys_reach_the_window_in_order(
    display: str, tmp_path: Path
) -> None:
    out = tmp_path / "typed.txt"
    env = {**os.environ, "DISPLAY": display, "QT_QPA_PLATFORM": "xcb"}
    held: list[str] = []
    with focused_target(env, out):
        queue = TypingQueue(
            lambda: XTestTypist(display),
            lambda: X11Focus(display),
            on_held=lambda text, why, failed, dictation: held.append(why),
        )
        try:
            await asyncio.wrap_future(queue.begin(True))
            queue.type("first sentence.")
            queue.type(" second")
            queue.type(" sentence")
            queue.edit(DeleteEdit(len(" second sentence")))
            queue.type(" third")
            queue.edit(PressEdit(Key.RETURN))
            queue.type("x")
            queue.edit(PressEdit(Key.TAB))
            queue.type("y")
            await asyncio.wrap_future(queue.finish())
            expected = "first sentence. third\nx\ty"
            assert await asyncio.to_thread(wait_for_text, out, expected) == expected
        finally:
            await asyncio.to_thread(queue.close)
    assert held == []
