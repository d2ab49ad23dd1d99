"""Hands-free mode for real: started with ``kyutai-dictate start``, speech from the PulseAudio
virtual microphone with a short pause inside, then silence; the proxy turns the moshi-server
double's pause predictions into ``vad_end`` and the app stops by itself with every word typed."""

from __future__ import annotations

import asyncio
import subprocess
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import pytest

from app.core.settings import HotkeyMode
from app.desktop import settings_store
from tests.conftest import DoubleFactory, ProxyFactory
from tests.support.desktop import Desktop, app_command, desktop, running_app, target_window, text_in
from tests.support.speech import SENTENCES, speech, write_wav


@pytest.fixture
def session(tmp_path: Path) -> AsyncIterator[Desktop]:
    with desktop(tmp_path / "home", 76) as d:
        yield d  # type: ignore[misc]


@pytest.mark.speech
async def test_speech_then_silence_ends_by_itself_with_every_word_typed(
    session: Desktop,
    moshi_double: DoubleFactory,
    proxy: ProxyFactory,
    speech_dir: Path,
    tmp_path: Path,
) -> None:
    wav = tmp_path / "speech.wav"
    # A 0.4 s pause between the sentences: the model predicts no end of speech there.
    write_wav(wav, speech(SENTENCES[:2], speech_dir, gap_seconds=0.4))
    typed = tmp_path / "typed.txt"
    expected = " ".join(SENTENCES[:2])
    async with moshi_double() as double, proxy(double.url) as server:
        session.use_backend(server.url)
        settings = settings_store.load(session.config)
        dictation = replace(settings.dictation, mode=HotkeyMode.HANDS_FREE)
        settings_store.save(replace(settings, dictation=dictation), session.config)
        async with target_window(session.env, typed), running_app(session) as app:
            mark = app.mark()
            started = await asyncio.to_thread(
                subprocess.run, app_command("start"), env=session.env, capture_output=True
            )
            assert started.returncode == 0, started.stderr
            await app.wait_for_line("capturing from", after=mark)
            await asyncio.to_thread(session.mic.play, wav)
            line = await app.wait_for_line("hands-free dictation stopped", after=mark)
            assert "the speech ended" in line
            await app.wait_for_line("dictation: idle", after=mark)
            assert await text_in(typed, expected) == expected, app.output
            stops = [x for x in app.lines[mark:] if "hands-free dictation stopped" in x]
            assert len(stops) == 1, app.output
