"""Sound cues for real: the app plays them through PortAudio to the default output, here a
second PulseAudio null sink ("speakers", not the microphone's own monitor), whose monitor is
recorded; and the first word of speech is still captured and typed."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import numpy as np
import pytest

from app.core.settings import BackendKind, BackendSettings, Settings, SoundSettings
from app.desktop import settings_store
from tests.conftest import DoubleFactory, ProxyFactory
from tests.support.desktop import (
    Desktop,
    desktop,
    hotkey_held,
    running_app,
    target_window,
    text_in,
    until,
)
from tests.support.speech import SENTENCES, speech, write_wav


@pytest.fixture
def session(tmp_path: Path) -> AsyncIterator[Desktop]:
    with desktop(tmp_path / "home", 77) as d:
        yield d  # type: ignore[misc]


async def test_the_start_and_stop_cues_play_on_the_speakers_and_the_first_word_is_typed(
    session: Desktop,
    moshi_double: DoubleFactory,
    proxy: ProxyFactory,
    speech_dir: Path,
    tmp_path: Path,
) -> None:
    wav = tmp_path / "speech.wav"
    write_wav(wav, speech(SENTENCES[:1], speech_dir, gap_seconds=0.3))
    typed, heard = tmp_path / "typed.txt", tmp_path / "speakers.raw"
    recorder = session.mic.record_speakers(heard)
    try:
        async with (
            moshi_double(step_seconds=0.08) as double,
            proxy(double.url) as server,
        ):
            backend = BackendSettings(BackendKind.PROXY, url=server.url)
            settings_store.save(Settings(backend, sounds=SoundSettings(volume=1.0)), session.config)
            async with target_window(session.env, typed), running_app(session) as app:
                async with hotkey_held(session, app):
                    await asyncio.to_thread(session.mic.play, wav)
                assert await text_in(typed, SENTENCES[0]) == SENTENCES[0], app.output
                await app.wait_for_line("sound cue stop played")
                lines = app.lines
                capture = next(i for i, line in enumerate(lines) if "capturing from" in line)
                start = next(i for i, line in enumerate(lines) if "sound cue start played" in line)
                assert capture < start  # the microphone was open before the cue
    finally:
        await until(lambda: heard.exists() and heard.stat().st_size > 0)
        recorder.terminate()
        recorder.wait(10)
    samples = np.frombuffer(heard.read_bytes(), dtype="<i2").astype(np.float32) / 32768
    loud = np.flatnonzero(np.abs(samples) > 0.2)
    assert len(loud) > 0, "no cue reached the speakers"
    # Two cues, start and stop, each about 0.16 s: loud samples in two separate bursts.
    bursts = 1 + int(np.count_nonzero(np.diff(loud) > 24_000 * 0.5))
    assert bursts == 2
