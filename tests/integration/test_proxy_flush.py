"""Every word of the audio reaches the client, through each way a stream can end."""

from __future__ import annotations

import asyncio
from pathlib import Path

import numpy as np
import pytest

from server.models import STT_2_6B
from server.proxy.channel import Transport
from tests.conftest import DoubleFactory, ProxyFactory, each_transport, words_of
from tests.support.clients import eventually, seed_style_client, stream_audio
from tests.support.speech import SENTENCES, speech

proxy_transport = pytest.fixture(params=list(Transport), ids=str)(each_transport)


async def test_flush_on_end_delivers_every_word_and_vad_end(
    moshi_double: DoubleFactory, proxy: ProxyFactory, two_sentences: np.ndarray
) -> None:
    async with moshi_double() as double, proxy(double.url) as server:
        result = await stream_audio(server.url, two_sentences)
    assert result.words == words_of(SENTENCES[:2])
    first = len(SENTENCES[0].split())
    types = result.types
    assert types[0] == "ready"
    assert types[-1] == "end"
    token_positions = [i for i, t in enumerate(types) if t == "token"]
    # vad_end between the two sentences, and after the last one
    assert "vad_end" in types[token_positions[first - 1] : token_positions[first]]
    assert "vad_end" in types[token_positions[-1] :]
    assert result.close_code == 1000


async def test_last_word_arrives_when_audio_stops_mid_speech(
    moshi_double: DoubleFactory, proxy: ProxyFactory, speech_dir: Path
) -> None:
    """No trailing silence at all: the flush alone must bring out the last word."""
    audio = speech([SENTENCES[2]], speech_dir, gap_seconds=0.0)
    async with moshi_double() as double, proxy(double.url) as server:
        result = await stream_audio(server.url, audio, chunk=1000)  # chunks not frame-aligned
    assert result.words == words_of(SENTENCES[2:3])
    assert result.types[-1] == "end"


async def test_flush_on_idle_timeout(
    moshi_double: DoubleFactory, proxy: ProxyFactory, two_sentences: np.ndarray
) -> None:
    async with moshi_double() as double, proxy(double.url, idle_timeout=1.0) as server:
        result = await stream_audio(server.url, two_sentences, send_end=False)
        assert await eventually(lambda: double.busy_slots == 0)
    assert result.words == words_of(SENTENCES[:2])
    assert result.messages[-1]["type"] == "error"
    assert result.errors() == ["idle_timeout"]
    assert result.close_code == 1000


async def test_seed_style_client_gets_the_whole_transcript(
    moshi_double: DoubleFactory, proxy: ProxyFactory, two_sentences: np.ndarray
) -> None:
    """One big binary message, then read until close, as the original protocol's clients do."""
    async with moshi_double() as double, proxy(double.url, idle_timeout=2.0) as server:
        result = await seed_style_client(server.url, two_sentences)
    assert result.words == words_of(SENTENCES[:2])
    assert "vad_end" in result.types
    assert result.close_code == 1000


async def test_backend_slow_to_become_ready_loses_no_audio(
    moshi_double: DoubleFactory, proxy: ProxyFactory, two_sentences: np.ndarray
) -> None:
    async with moshi_double(warmup_seconds=2.0) as double, proxy(double.url) as server:
        result = await stream_audio(server.url, two_sentences)
    assert result.words == words_of(SENTENCES[:2])
    # audio was sent from the first moment; ready came later and nothing was lost
    assert result.types[0] == "ready"


async def test_large_model_gets_silence_prefix_and_has_no_vad(
    moshi_double: DoubleFactory, proxy: ProxyFactory, two_sentences: np.ndarray
) -> None:
    double_2_6b = moshi_double(delay_frames=32, extra_heads=False)
    async with double_2_6b as double, proxy(double.url, model=STT_2_6B) as server:
        result = await stream_audio(server.url, two_sentences, speed=8.0)
    assert result.words == words_of(SENTENCES[:2])
    assert "vad_end" not in result.types
    starts = [float(m["start"]) for m in result.messages if m["type"] == "token"]  # type: ignore[arg-type]
    # times are relative to the client's audio, not to the 1 s silence the proxy sent first
    assert 0.0 <= starts[0] < 0.5
    assert starts == sorted(starts)


async def test_concurrent_streams_get_their_own_words(
    moshi_double: DoubleFactory, proxy: ProxyFactory, speech_dir: Path
) -> None:
    audios = [speech([s], speech_dir, gap_seconds=0.5) for s in SENTENCES]
    async with moshi_double() as double, proxy(double.url) as server:
        results = await asyncio.gather(*(stream_audio(server.url, a) for a in audios))
    assert [r.words for r in results] == [s.split() for s in SENTENCES], [
        r.messages for r in results
    ]


async def test_flush_waits_for_a_backlog_from_a_client_faster_than_real_time(
    moshi_double: DoubleFactory, proxy: ProxyFactory, two_sentences: np.ndarray
) -> None:
    """The backend works in real time: audio sent at 10x queues up, and every word of it
    must still come out before ``end``."""
    async with moshi_double(step_seconds=0.08) as double, proxy(double.url) as server:
        result = await stream_audio(server.url, two_sentences, speed=10.0)
    assert result.words == words_of(SENTENCES[:2])
    assert result.types[-1] == "end"


async def test_last_words_arrive_while_other_streams_drive_the_batch(
    moshi_double: DoubleFactory, proxy: ProxyFactory, speech_dir: Path
) -> None:
    """The Marker falls due on the batch's step counter, which other streams keep moving:
    only the silence queued before it makes sure the last words come out first."""
    spoken = speech([SENTENCES[2]], speech_dir, gap_seconds=0.0)
    ending = spoken[: np.flatnonzero(np.abs(spoken) > 0.01)[-1] + 1]  # no trailing silence
    busy = np.zeros(len(ending) + 4 * 24_000, np.float32)  # keeps streaming after the end
    async with moshi_double() as double, proxy(double.url) as server:
        results = await asyncio.gather(
            stream_audio(server.url, ending), stream_audio(server.url, busy)
        )
    assert results[0].words == words_of(SENTENCES[2:3])
    assert results[0].types[-1] == "end"
