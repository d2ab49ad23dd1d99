"""The engine speaks moshi-server's protocol as the Rust server does (the same behaviours
that tests/integration/test_moshi_double.py checks on the double), on a tiny checkpoint."""

from __future__ import annotations

import asyncio
import json
import urllib.request

import numpy as np
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from server.engine.batch import BatchModel
from server.engine.offline import transcribe
from server.engine.server import Limits
from server.protocol import moshi
from server.protocol.audio import FRAME_SAMPLES, silence
from tests.engine.conftest import KEY, EngineFactory
from tests.support.clients import eventually

HEADERS = {moshi.API_KEY_HEADER: KEY}


def noise(seconds: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.normal(0, 0.1, int(seconds * 24_000) // FRAME_SAMPLES * FRAME_SAMPLES).astype(
        np.float32
    )


async def next_message(ws: ClientConnection, skip_steps: bool = True) -> moshi.ServerMessage:
    while True:
        message = moshi.decode_server(await asyncio.wait_for(ws.recv(), 10))  # type: ignore[arg-type]
        if not (skip_steps and isinstance(message, moshi.Step)):
            return message


async def stream_words(ws: ClientConnection, audio: np.ndarray) -> list[moshi.ServerMessage]:
    """Send ``audio`` frame by frame, then a marker and the silence that brings it back (the
    loop steps only on audio); the Word/EndWord messages before its echo."""
    for frame in audio.reshape(-1, FRAME_SAMPLES):
        await ws.send(moshi.encode(moshi.Audio.from_samples(frame)))
    await ws.send(moshi.encode(moshi.Marker(7)))
    for _ in range(12):
        await ws.send(moshi.encode(moshi.Audio.from_samples(silence(1))))
    out: list[moshi.ServerMessage] = []
    while (message := await next_message(ws)) != moshi.Marker(7):
        out.append(message)
    return out


async def test_auth_ready_and_no_free_channels(engine: EngineFactory) -> None:
    async with engine(batch_size=1) as server:
        with pytest.raises(InvalidStatus) as caught:
            await connect(server.url)
        assert caught.value.response.status_code == 401
        async with connect(server.url + f"?auth_id={KEY}") as a:
            assert await next_message(a) == moshi.Ready()
            async with connect(server.url, additional_headers=HEADERS) as b:
                assert await next_message(b) == moshi.Error(moshi.NO_FREE_CHANNELS)
                with pytest.raises(ConnectionClosed):
                    await b.recv()
            info_url = f"http://127.0.0.1:{server.port}/api/modules_info"
            body = await asyncio.to_thread(lambda: urllib.request.urlopen(info_url).read())
            info = json.loads(body)
            assert (info[0]["used_slots"], info[0]["total_slots"]) == ("1", "1")


async def test_one_step_per_frame_with_backlog_and_marker_after_delay(
    engine: EngineFactory,
) -> None:
    async with engine() as server, connect(server.url, additional_headers=HEADERS) as ws:
        assert await next_message(ws) == moshi.Ready()
        await ws.send(moshi.encode(moshi.Audio.from_samples(silence(4))))
        await ws.send(moshi.encode(moshi.Marker(42)))
        steps = [await next_message(ws, skip_steps=False) for _ in range(4)]
        steps = [s for s in steps if isinstance(s, moshi.Step)]
        assert [s.step_idx for s in steps] == [3, 4, 5, 6]  # after two warm-up steps
        assert [s.buffered_pcm for s in steps] == [
            3 * FRAME_SAMPLES,
            2 * FRAME_SAMPLES,
            FRAME_SAMPLES,
            0,
        ]
        assert all(len(s.prs) == 4 and all(0.0 <= p <= 1.0 for p in s.prs) for s in steps)
        # the marker waits for the backlog and the delay: more frames must come first
        await ws.send(moshi.encode(moshi.Audio.from_samples(silence(20))))
        seen_steps = 0
        while not isinstance(message := await next_message(ws, skip_steps=False), moshi.Marker):
            seen_steps += isinstance(message, moshi.Step)
        assert message == moshi.Marker(42)
        assert seen_steps == server.facts.delay_frames  # 4 backlog steps done, then the delay


async def test_a_reused_slot_gives_exactly_a_fresh_streams_words(engine: EngineFactory) -> None:
    audio = noise(3.0, seed=5)
    async with engine(batch_size=1) as server:
        async with connect(server.url, additional_headers=HEADERS) as ws:
            assert await next_message(ws) == moshi.Ready()
            first = await stream_words(ws, audio)
            await ws.send(moshi.encode(moshi.Init()))  # Init resets the slot
            assert await next_message(ws) == moshi.Ready()
            after_init = await stream_words(ws, audio)
        assert await eventually(lambda: server.used_slots == 0)  # the loop frees the slot
        async with connect(server.url, additional_headers=HEADERS) as ws:
            assert await next_message(ws) == moshi.Ready()
            reused = await stream_words(ws, audio)
    assert any(isinstance(m, moshi.Word) for m in first)
    assert after_init == first
    assert reused == first


def test_batch_of_one_and_of_four_give_the_same_logits_and_words(
    tiny_info: tuple[object, object], offline_model: BatchModel
) -> None:
    info, facts = tiny_info
    four = BatchModel(info, 4, "cpu", "float32")
    audio = noise(6.0, seed=11).reshape(-1, FRAME_SAMPLES)
    offline_model.reset([0])
    four.reset([0, 1, 2, 3])
    other = noise(6.0, seed=12).reshape(-1, FRAME_SAMPLES)
    for i, frame in enumerate(audio):
        one = offline_model.step(frame[None], [True])
        batch = np.stack([other[i], other[i] * 0.5, frame, np.zeros_like(frame)])
        many = four.step(batch, [True, i % 2 == 0, True, False])  # slot 1 skips every other step
        np.testing.assert_allclose(many.logits[2], one.logits[0], atol=1e-4)
        assert many.tokens[2] == one.tokens[0]
        assert many.tokens[3] == -1
    assert transcribe(four, facts.delay_frames, noise(6.0, seed=11), slot=3) == transcribe(  # type: ignore[attr-defined]
        offline_model,
        facts.delay_frames,
        noise(6.0, seed=11),  # type: ignore[attr-defined]
    )


def test_the_tiny_checkpoint_is_not_degenerate(
    tiny_info: tuple[object, object], offline_model: BatchModel, two_sentences: np.ndarray
) -> None:
    delay = tiny_info[1].delay_frames  # type: ignore[attr-defined]
    speech_words = [
        m for m in transcribe(offline_model, delay, two_sentences) if isinstance(m, moshi.Word)
    ]
    assert speech_words, "speech gives words"
    a = transcribe(offline_model, delay, noise(4.0, seed=1))
    b = transcribe(offline_model, delay, noise(4.0, seed=2) * 0.3)
    assert a != b, "different audio gives different words"
    assert all(isinstance(m, moshi.Word | moshi.EndWord) for m in a + b)


async def test_sessions_end_on_garbage_and_when_idle(engine: EngineFactory) -> None:
    """batched_asr.rs ``recv_loop``: text frames are ignored, an undecodable message or 20 s
    without a frame (shortened here) drops the session without a close frame; so does the
    first frame after 120 s (shortened) without a binary message."""
    limits = Limits(ping_after=0.2, drop_without_frames=0.4, drop_without_binary=1.0)
    async with engine(limits=limits) as server:
        async with connect(server.url, additional_headers=HEADERS) as ws:
            await ws.send("text frames are ignored")
            assert await next_message(ws) == moshi.Ready()
            await ws.send(b"\xc1 not msgpack")
            with pytest.raises(ConnectionClosed):
                await receive_until_closed(ws)
        assert ws.close_code == 1006
        async with connect(server.url, additional_headers=HEADERS, ping_interval=None) as ws:
            assert await next_message(ws) == moshi.Ready()
            with pytest.raises(ConnectionClosed) as dropped:
                await receive_until_closed(ws)  # no frame from us: the short timeout fires
            assert dropped.value.rcvd is None
        async with connect(server.url, additional_headers=HEADERS) as ws:
            assert await next_message(ws) == moshi.Ready()
            for _ in range(15):  # binary messages for 1.5 s: the session stays
                await ws.send(moshi.encode(moshi.Marker(0)))
                await asyncio.sleep(0.1)
            with pytest.raises(ConnectionClosed):
                await send_text_only(ws, seconds=5.0)  # no binary message: dropped after 1 s
        assert await eventually(lambda: server.used_slots == 0)


async def send_text_only(ws: ClientConnection, seconds: float) -> None:
    for _ in range(int(seconds / 0.1)):
        await ws.send("frames, but no binary message")
        await asyncio.sleep(0.1)


async def receive_until_closed(ws: ClientConnection) -> None:
    while True:
        await asyncio.wait_for(ws.recv(), 5)
