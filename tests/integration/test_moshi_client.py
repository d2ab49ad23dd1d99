"""MoshiStreamClient against the moshi-server double on loopback, with real speech."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from app.backend.moshi_client import MoshiStreamClient
from app.backend.stream_client import StreamClosed, StreamError, Unauthorized
from app.core.endpoint import Endpoint
from app.core.reconnect import Verdict
from app.desktop.dictation import classify
from server.models import STT_2_6B
from server.protocol import ErrorCode, moshi
from server.protocol.audio import FRAME_SAMPLES, FRAME_SECONDS
from server.protocol.stream import End, Ready, ServerMessage, Token, VadEnd
from tests.conftest import FAST_STEP, DoubleFactory, words_of
from tests.support.moshi_double import MoshiDouble
from tests.support.speech import SENTENCES, speech

SPEED = FRAME_SECONDS / FAST_STEP  # as fast as the double's model loop


def endpoint(double: MoshiDouble, key: str = "public_token") -> Endpoint:
    return Endpoint(double.url, ((moshi.API_KEY_HEADER, key),))


def words(messages: list[ServerMessage]) -> list[str]:
    return [m.text.strip() for m in messages if isinstance(m, Token)]


async def read_all(
    stream: MoshiStreamClient, on_token: Callable[[], None] = lambda: None
) -> list[ServerMessage]:
    """Every message up to ``End``; ``on_token`` is called after each ``Token``."""
    messages: list[ServerMessage] = []
    async with asyncio.timeout(60):
        async for message in stream.messages():
            messages.append(message)
            if isinstance(message, Token):
                on_token()
    return messages


async def send_all(
    stream: MoshiStreamClient,
    audio: np.ndarray,
    *,
    speed: float = SPEED,
    chunk: int = FRAME_SAMPLES,
) -> None:
    """Send ``audio`` in chunks at ``speed`` x real time, then ``end``."""
    pause = chunk / FRAME_SAMPLES * FRAME_SECONDS / speed
    for start in range(0, len(audio), chunk):
        await stream.send_audio(audio[start : start + chunk])
        await asyncio.sleep(pause)
    await stream.end()


async def transcribe(
    stream: MoshiStreamClient,
    audio: np.ndarray,
    *,
    speed: float = SPEED,
    chunk: int = FRAME_SAMPLES,
) -> list[ServerMessage]:
    """:func:`send_all` while reading, as the app does; every message up to ``End``."""
    sender = asyncio.create_task(send_all(stream, audio, speed=speed, chunk=chunk))
    try:
        messages = await read_all(stream)
        await sender
    finally:
        sender.cancel()
    return messages


async def test_every_word_arrives_with_ready_first_and_vad_end_per_sentence(
    moshi_double: DoubleFactory, two_sentences: np.ndarray
) -> None:
    async with moshi_double() as double, MoshiStreamClient.connect(endpoint(double)) as stream:
        messages = await transcribe(stream, two_sentences)
        assert stream.stats.samples == len(two_sentences)
    assert words(messages) == words_of(SENTENCES[:2])
    assert messages[0] == Ready()
    assert messages[-1] == End()
    tokens = [i for i, m in enumerate(messages) if isinstance(m, Token)]
    first = len(SENTENCES[0].split())
    assert VadEnd() in messages[tokens[first - 1] : tokens[first]]  # between the sentences
    assert VadEnd() in messages[tokens[-1] :]  # and after the last one
    texts = [m.text for m in messages if isinstance(m, Token)]
    assert all(t.startswith(" ") and t[1:].strip() == t[1:] for t in texts)
    starts = [m.start for m in messages if isinstance(m, Token)]
    assert starts == sorted(starts)


async def test_last_word_arrives_when_audio_stops_mid_speech(
    moshi_double: DoubleFactory, speech_dir: Path
) -> None:
    """No trailing silence, chunks not frame-aligned: the flush alone brings the last word."""
    audio = speech([SENTENCES[2]], speech_dir, gap_seconds=0.0)
    async with moshi_double() as double, MoshiStreamClient.connect(endpoint(double)) as stream:
        messages = await transcribe(stream, audio, chunk=1000)
    assert words(messages) == words_of(SENTENCES[2:3])
    assert messages[-1] == End()


async def test_audio_and_end_sent_before_the_server_is_ready_are_not_lost(
    moshi_double: DoubleFactory, two_sentences: np.ndarray
) -> None:
    """All the audio and ``end`` go in before ``Ready`` (a cold server); reading starts after."""
    async with moshi_double(warmup_seconds=1.0) as double:  # noqa: SIM117
        async with MoshiStreamClient.connect(endpoint(double)) as stream:
            for start in range(0, len(two_sentences), 4000):
                await stream.send_audio(two_sentences[start : start + 4000])
            await stream.end()
            assert double.received_frames == 0
            messages = await read_all(stream)
    assert messages[0] == Ready()
    assert words(messages) == words_of(SENTENCES[:2])
    assert messages[-1] == End()


async def test_large_model_gets_silence_prefix_and_has_no_vad(
    moshi_double: DoubleFactory, speech_dir: Path
) -> None:
    audio = speech([SENTENCES[0]], speech_dir, gap_seconds=0.5)
    async with moshi_double(delay_frames=32, extra_heads=False) as double:  # noqa: SIM117
        async with MoshiStreamClient.connect(endpoint(double), model=STT_2_6B) as stream:
            messages = await transcribe(stream, audio, speed=2 * SPEED)
    assert words(messages) == words_of(SENTENCES[:1])
    assert VadEnd() not in messages
    starts = [m.start for m in messages if isinstance(m, Token)]
    # times are relative to the caller's audio, not to the 1 s of silence sent first
    assert starts[0] is not None
    assert 0.0 <= starts[0] < 0.5


@pytest.mark.parametrize("key", ["wrong", ""])
async def test_refused_api_key_is_unauthorized_and_fatal(
    moshi_double: DoubleFactory, key: str
) -> None:
    async with moshi_double() as double:
        with pytest.raises(Unauthorized) as caught:
            async with MoshiStreamClient.connect(endpoint(double, key)):
                pass
    assert caught.value.status == 401
    assert classify(caught.value)[0] is Verdict.FATAL


async def test_no_free_slot_is_busy_and_retryable(moshi_double: DoubleFactory) -> None:
    async with (
        moshi_double(slots=1) as double,
        MoshiStreamClient.connect(endpoint(double)) as holder,
        MoshiStreamClient.connect(endpoint(double)) as refused,
    ):
        assert await anext(holder.messages()) == Ready()
        with pytest.raises(StreamError) as caught:
            await read_all(refused)
    assert caught.value.code is ErrorCode.BUSY
    assert classify(caught.value)[0] is Verdict.RETRY


@pytest.mark.parametrize("how", ["shutdown", "crash"])
async def test_server_gone_mid_stream_is_stream_closed_and_retryable(
    moshi_double: DoubleFactory, two_sentences: np.ndarray, how: str
) -> None:
    async with moshi_double() as double, MoshiStreamClient.connect(endpoint(double)) as stream:
        sender = asyncio.create_task(send_all(stream, two_sentences))
        killers: list[asyncio.Task[None]] = []

        def kill_once() -> None:  # in a task: the client keeps reading while the double goes
            if not killers:
                killers.append(asyncio.create_task(kill(double, how)))

        try:
            with pytest.raises(StreamClosed) as caught:
                await read_all(stream, on_token=kill_once)
        finally:
            sender.cancel()
            await asyncio.gather(sender, *killers, return_exceptions=True)
    expected_code = 1001 if how == "shutdown" else None
    assert caught.value.close_code == expected_code
    assert classify(caught.value)[0] is Verdict.RETRY


async def kill(double: MoshiDouble, how: str) -> None:
    """Stop the double: a clean shutdown (close 1001), or a crash (connections just drop)."""
    if how == "shutdown":
        await double.close()
        return
    assert double._server is not None
    for connection in double._server.connections:
        connection.transport.abort()
