"""The desktop app for real: under Xvfb with a tray host, speech from a PulseAudio virtual
microphone, the proxy and the moshi-server double on loopback, and a real target window.
Push-to-talk is pressed with xdotool (XTEST), as a keyboard would."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from app import settings_store
from app.settings import BackendKind, BackendSettings, Settings
from tests.conftest import DoubleFactory, ProxyFactory
from tests.support.desktop import Desktop, app_command, desktop, spawn, target_window, text_in
from tests.support.speech import SENTENCES, speech, write_wav


@pytest.fixture
def session(tmp_path: Path) -> AsyncIterator[Desktop]:
    with desktop(tmp_path / "home", 71) as d:
        yield d  # type: ignore[misc]


def configure(d: Desktop, url: str) -> None:
    settings_store.save(Settings(BackendSettings(BackendKind.PROXY, url=url)), d.config)


async def test_push_to_talk_types_every_word_into_the_focused_window(
    session: Desktop,
    moshi_double: DoubleFactory,
    proxy: ProxyFactory,
    speech_dir: Path,
    tmp_path: Path,
) -> None:
    wav = tmp_path / "speech.wav"
    write_wav(wav, speech(SENTENCES[:1], speech_dir, gap_seconds=0.3))
    typed = tmp_path / "typed.txt"
    async with (
        moshi_double(step_seconds=0.08, warmup_seconds=1.5) as double,
        proxy(double.url) as server,
    ):
        configure(session, server.url)
        async with (
            target_window(session.env, typed),
            spawn(app_command("--config", str(session.config)), session.env) as app,
        ):
            await app.wait_for_line("listening for the hotkey")
            session.xdotool("keydown", "F9")
            await app.wait_for_line("capturing from")  # a person starts talking later, too
            await asyncio.to_thread(session.mic.play, wav)
            session.xdotool("keyup", "F9")
            text = await text_in(typed, SENTENCES[0])
            assert text == SENTENCES[0], app.output
