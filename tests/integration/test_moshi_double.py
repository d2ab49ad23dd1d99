"""The moshi-server double behaves as PROTOCOL.md section 2 says the Rust server does."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from server.protocol import moshi
from server.protocol.audio import FRAME_SAMPLES, silence
from tests.conftest import DoubleFactory

KEY = {moshi.API_KEY_HEADER: "public_token"}


async def next_message(ws: ClientConnection, skip_steps: bool = True) -> moshi.ServerMessage:
    while True:
        message = moshi.decode_server(await asyncio.wait_for(ws.recv(), 5))  # type: ignore[arg-type]
        if not (skip_steps and isinstance(message, moshi.Step)):
            return message


async def test_auth_by_header_or_query_and_401_otherwise(moshi_double: DoubleFactory) -> None:
    async with moshi_double() as double:
        async with connect(double.url, additional_headers=KEY) as ws:
            assert await next_message(ws) == moshi.Ready()
        async with connect(double.url + "?auth_id=public_token") as ws:
            assert await next_message(ws) == moshi.Ready()
        with pytest.raises(InvalidStatus) as caught:
            await connect(double.url)
        assert caught.value.response.status_code == 401


async def test_no_free_channels(moshi_double: DoubleFactory) -> None:
    async with moshi_double(slots=1) as double, connect(double.url, additional_headers=KEY) as a:
        assert await next_message(a) == moshi.Ready()
        async with connect(double.url, additional_headers=KEY) as b:
            assert await next_message(b) == moshi.Error(moshi.NO_FREE_CHANNELS)
            with pytest.raises(ConnectionClosed):
                await b.recv()


async def test_one_step_per_frame_with_backlog_and_marker_after_delay(
    moshi_double: DoubleFactory,
) -> None:
    async with moshi_double(delay_frames=6) as double:  # noqa: SIM117
        async with connect(double.url, additional_headers=KEY) as ws:
            assert await next_message(ws) == moshi.Ready()
            # four frames in one message: one is processed per step, the rest is backlog
            await ws.send(moshi.encode(moshi.Audio.from_samples(silence(4))))
            await ws.send(moshi.encode(moshi.Marker(42)))
            steps = [await next_message(ws, skip_steps=False) for _ in range(4)]
            assert [s.step_idx for s in steps] == [1, 2, 3, 4]  # type: ignore[union-attr]
            assert [s.buffered_pcm for s in steps] == [  # type: ignore[union-attr]
                3 * FRAME_SAMPLES,
                2 * FRAME_SAMPLES,
                FRAME_SAMPLES,
                0,
            ]
            # the marker needs the model delay in further audio frames
            for _ in range(5):
                await ws.send(moshi.encode(moshi.Audio.from_samples(silence(1))))
            assert moshi.Marker(42) not in await received_until_quiet(ws)
            for _ in range(2):
                await ws.send(moshi.encode(moshi.Audio.from_samples(silence(1))))
            assert await next_message(ws) == moshi.Marker(42)


async def received_until_quiet(
    ws: ClientConnection, quiet: float = 0.3
) -> list[moshi.ServerMessage]:
    """Everything the server sends until it stays silent for ``quiet`` seconds."""
    out = []
    while True:
        try:
            data = await asyncio.wait_for(ws.recv(), quiet)
        except TimeoutError:
            return out
        out.append(moshi.decode_server(data))  # type: ignore[arg-type]


async def test_large_model_style_sends_no_steps(moshi_double: DoubleFactory) -> None:
    async with moshi_double(extra_heads=False) as double:  # noqa: SIM117
        async with connect(double.url, additional_headers=KEY) as ws:
            assert await next_message(ws, skip_steps=False) == moshi.Ready()
            await ws.send(moshi.encode(moshi.Audio.from_samples(silence(3))))
            await ws.send(moshi.encode(moshi.Marker(1)))
            for _ in range(8):
                await ws.send(moshi.encode(moshi.Audio.from_samples(silence(1))))
            assert await next_message(ws, skip_steps=False) == moshi.Marker(1)


async def receive_until_closed(ws: ClientConnection) -> None:
    while True:
        await asyncio.wait_for(ws.recv(), 5)


async def send_markers_only(ws: ClientConnection, seconds: float) -> None:
    for _ in range(int(seconds / 0.1)):
        await ws.send(moshi.encode(moshi.Marker(0)))
        await asyncio.sleep(0.1)


async def test_sessions_end_on_garbage_and_when_idle(moshi_double: DoubleFactory) -> None:
    async with moshi_double(drop_without_frames=0.4, drop_without_audio=1.0) as double:
        async with connect(double.url, additional_headers=KEY) as ws:
            await ws.send("text frames are ignored")
            assert await next_message(ws) == moshi.Ready()
            await ws.send(b"\xc1 not msgpack")
            with pytest.raises(ConnectionClosed):
                await asyncio.wait_for(ws.recv(), 5)
        async with connect(double.url, additional_headers=KEY) as ws:
            assert await next_message(ws) == moshi.Ready()
            started = asyncio.get_running_loop().time()
            with pytest.raises(ConnectionClosed):
                await receive_until_closed(ws)
            assert asyncio.get_running_loop().time() - started < 2.0
        async with connect(double.url, additional_headers=KEY) as ws:
            assert await next_message(ws) == moshi.Ready()
            with pytest.raises(ConnectionClosed):
                await send_markers_only(ws, seconds=5.0)  # frames, but no audio: dropped at 1 s


async def test_words_need_audio_to_keep_coming(
    moshi_double: DoubleFactory, two_sentences: np.ndarray
) -> None:
    """Words of audio already sent stay inside until more frames push them out."""
    speech_end = int(np.flatnonzero(np.abs(two_sentences) > 0.01)[-1])
    frames = -(-speech_end // FRAME_SAMPLES) + 1
    audio = two_sentences[: frames * FRAME_SAMPLES].reshape(frames, FRAME_SAMPLES)
    async with moshi_double() as double, connect(double.url, additional_headers=KEY) as ws:
        assert await next_message(ws) == moshi.Ready()
        for frame in audio:
            await ws.send(moshi.encode(moshi.Audio.from_samples(frame)))
        received = await received_until_quiet(ws, quiet=1.0)
        words = [m for m in received if isinstance(m, moshi.Word)]
        assert words[-1].text != "window"  # the last word is still inside the model
        for _ in range(12):
            await ws.send(moshi.encode(moshi.Audio.from_samples(silence(1))))
        while True:
            message = await next_message(ws)
            if isinstance(message, moshi.Word) and message.text == "window":
                break
