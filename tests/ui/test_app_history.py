"""The history in the running app, for real: under Xvfb with a tray host, speech from a
PulseAudio virtual microphone, the proxy and the moshi-server double on loopback. The double
is killed mid-dictation and started again on the same port."""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.conftest import FAST_STEP, ProxyFactory
from tests.support.desktop import (
    Desktop,
    Process,
    app_command,
    desktop,
    hotkey_held,
    read_text,
    running_app,
    target_window,
    until,
)
from tests.support.moshi_double import DoubleConfig, MoshiDouble
from tests.support.speech import SENTENCES, speech, write_wav


@pytest.fixture
def session(tmp_path: Path) -> AsyncIterator[Desktop]:
    with desktop(tmp_path / "home", 76) as d:
        yield d  # type: ignore[misc]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


async def cli(d: Desktop, *args: str) -> str:
    done = await asyncio.to_thread(
        subprocess.run, app_command(*args), env=d.env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


async def quit_mid_dictation(session: Desktop, app: Process) -> None:
    """Quit while a dictation waits for a backend that is gone: it must be kept."""
    mark = app.mark()
    session.xdotool("keydown", "F9")
    await app.wait_for_line("dictation: connecting", after=mark)  # its audio is being kept
    await cli(session, "quit")
    await asyncio.wait_for(app.process.wait(), 30)
    session.xdotool("keyup", "F9")


async def test_a_dictation_whose_backend_dies_is_kept_and_transcribed_again_exactly(
    session: Desktop, proxy: ProxyFactory, speech_dir: Path, tmp_path: Path
) -> None:
    first, second = tmp_path / "first.wav", tmp_path / "second.wav"
    write_wav(first, speech(SENTENCES[:1], speech_dir, gap_seconds=0.0))
    write_wav(second, speech(SENTENCES[1:2], speech_dir, gap_seconds=0.3))
    typed = tmp_path / "typed.txt"
    port = free_port()
    config = DoubleConfig(list(SENTENCES), step_seconds=0.08)
    async with MoshiDouble(config, port=port) as double:
        async with (
            proxy(double.url) as server,
            target_window(session.env, typed, "Notes"),
        ):
            session.use_backend(server.url)
            async with running_app(session) as app:
                async with hotkey_held(session, app):
                    await asyncio.to_thread(session.mic.play, first)
                    await double.kill()  # the backend dies while the words still come
                    await app.wait_for_line("the end of this dictation may be missing")
                    line = await app.wait_for_line("its audio is kept")
                    released = app.mark()
                    assert "WARNING" in line
                await app.wait_for_line("history: dictation 1 stored (failed)")
                await app.wait_for_line("hotkey stop", after=released)  # the next is a press
                typed_before = read_text(typed)
                assert typed_before != SENTENCES[0]  # the last words were lost with it

                listed = json.loads(await cli(session, "history", "--json"))
                assert [(e["id"], e["outcome"], e["has_audio"]) for e in listed] == [
                    (1, "failed", True)
                ]
                assert listed[0]["window"] == "Notes"

                fast = DoubleConfig(list(SENTENCES), step_seconds=FAST_STEP)
                async with MoshiDouble(fast, port=port):  # started again
                    mark = app.mark()
                    async with hotkey_held(session, app):
                        await asyncio.to_thread(session.mic.play, second)
                    expected = typed_before + SENTENCES[1]  # a new dictation: no leading space
                    await until(lambda: read_text(typed) == expected, 30, app.output)
                    await app.wait_for_line(
                        "1 dictation was not transcribed. Transcribe now?", after=mark
                    )

                    again = await cli(session, "history", "retry", "1")
                    assert again.strip() == SENTENCES[0]
                assert read_text(typed) == expected  # transcribing again typed nothing
                listed = json.loads(await cli(session, "history", "--json"))
                assert listed[1]["retry_text"] == SENTENCES[0]
                assert listed[0]["outcome"] == "typed"

                await quit_mid_dictation(session, app)
            listed = json.loads(await cli(session, "history", "--json"))
            newest = listed[0]
            assert (newest["id"], newest["outcome"], newest["has_audio"]) == (3, "cancelled", True)

        log = session.home / "state" / "kyutai-dictate" / "log" / "app.log"
        text = log.read_text()
        assert "dictation 1 stored" in text
        for sentence in SENTENCES[:2]:
            for word in sentence.split():
                if len(word) > 3:
                    assert word not in text, word
