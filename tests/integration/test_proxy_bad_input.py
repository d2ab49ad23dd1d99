"""Bad input from either side gets a clear error with a code, and the proxy keeps serving."""

from __future__ import annotations

import asyncio
import json
import socket

import numpy as np
import pytest
from websockets.asyncio.client import connect

from server.protocol.audio import FRAME_SAMPLES
from server.proxy.channel import Transport
from tests.conftest import DoubleFactory, ProxyFactory, each_transport, words_of
from tests.support.clients import Transcript, eventually, receive_all, stream_audio
from tests.support.rogue_backend import rogue_backend
from tests.support.speech import SENTENCES

proxy_transport = pytest.fixture(params=list(Transport), ids=str)(each_transport)

SPEECHLESS = np.zeros(FRAME_SAMPLES * 5, np.float32)


async def send_then_collect(url: str, *messages: bytes | str) -> Transcript:
    transcript = Transcript()
    async with connect(url, max_size=None) as ws:
        for message in messages:
            await ws.send(message)
        await asyncio.wait_for(receive_all(ws, transcript), 20)
    return transcript


async def still_serves(url: str, audio: np.ndarray) -> None:
    result = await stream_audio(url, audio)
    assert result.words == words_of(SENTENCES[:2])


@pytest.mark.parametrize(
    ("message", "code", "close_code"),
    [
        (b"\x00" * 7, "bad_audio", 1007),
        ("not json at all", "bad_message", 1008),
        ('{"type": "launch_missiles"}', "bad_message", 1008),
        ("[1, 2, 3]", "bad_message", 1008),
        (b"\x00" * (64 * 1024 + 4), "too_large", 1009),
    ],
    ids=["odd-byte-count", "text-garbage", "unknown-type", "json-not-object", "too-large"],
)
async def test_bad_client_message(
    moshi_double: DoubleFactory,
    proxy: ProxyFactory,
    two_sentences: np.ndarray,
    message: bytes | str,
    code: str,
    close_code: int,
) -> None:
    async with moshi_double() as double, proxy(double.url, max_message_bytes=64 * 1024) as server:
        result = await send_then_collect(server.url, SPEECHLESS.tobytes(), message)
        assert result.errors() == [code]
        assert result.close_code == close_code
        assert await eventually(lambda: double.busy_slots == 0)
        await still_serves(server.url, two_sentences)


async def test_message_far_over_the_limit_is_cut_off_unread(
    moshi_double: DoubleFactory, proxy: ProxyFactory
) -> None:
    async with moshi_double() as double, proxy(double.url, max_message_bytes=64 * 1024) as server:
        result = await send_then_collect(server.url, b"\x00" * (1 << 20))
    assert result.close_code == 1009


async def test_non_finite_and_loud_samples_are_sanitised(
    moshi_double: DoubleFactory, proxy: ProxyFactory, two_sentences: np.ndarray
) -> None:
    """NaN, inf and out-of-range samples must not reach the backend or break the stream."""
    garbage = np.zeros(FRAME_SAMPLES, np.float32)
    garbage[::4], garbage[1::4], garbage[2::4] = np.nan, -np.inf, 1e9
    audio = np.concatenate([garbage, SPEECHLESS, SPEECHLESS, two_sentences])
    async with moshi_double() as double, proxy(double.url) as server:
        result = await stream_audio(server.url, audio)
        assert double.non_finite_samples == 0
        assert double.peak == 1.0
    assert result.words == words_of(SENTENCES[:2])


async def test_backend_busy(
    moshi_double: DoubleFactory, proxy: ProxyFactory, two_sentences: np.ndarray
) -> None:
    async with moshi_double(slots=1) as double, proxy(double.url) as server:
        async with connect(server.url) as holder:
            assert json.loads(await holder.recv()) == {"type": "ready"}
            result = await send_then_collect(server.url, SPEECHLESS.tobytes())
            assert result.errors() == ["busy"]
            assert result.close_code == 1013
        assert await eventually(lambda: double.busy_slots == 0)
        await still_serves(server.url, two_sentences)


async def test_backend_not_reachable(proxy: ProxyFactory) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # nothing listens here once the socket closes
    async with proxy(f"ws://127.0.0.1:{port}/api/asr-streaming", backend_timeout=1.0) as server:
        result = await send_then_collect(server.url, SPEECHLESS.tobytes())
    assert result.errors() == ["backend_unavailable"]
    assert "not reachable" in str(result.messages[-1]["message"])
    assert result.close_code == 1011


async def test_backend_rejects_the_proxy_key(
    moshi_double: DoubleFactory, proxy: ProxyFactory
) -> None:
    async with moshi_double() as double, proxy(double.url, backend_key="wrong") as server:
        result = await send_then_collect(server.url, SPEECHLESS.tobytes())
    assert result.errors() == ["backend_unavailable"]
    assert "key" in str(result.messages[-1]["message"])


@pytest.mark.parametrize("action", ["garbage", "close", "error"])
async def test_backend_failing_mid_stream(
    proxy: ProxyFactory,
    moshi_double: DoubleFactory,
    two_sentences: np.ndarray,
    action: str,
) -> None:
    async with rogue_backend(after_frames=3, action=action) as url, proxy(url) as server:
        audio = SPEECHLESS.tobytes() * 4
        result = await send_then_collect(server.url, audio)
        assert result.types[0] == "ready"
        assert result.errors() == ["backend_unavailable"]
        assert result.close_code == 1011


async def test_client_vanishing_releases_the_backend_at_once(
    moshi_double: DoubleFactory, proxy: ProxyFactory, two_sentences: np.ndarray
) -> None:
    async with moshi_double(slots=1) as double, proxy(double.url) as server:
        ws = await connect(server.url)
        assert json.loads(await ws.recv()) == {"type": "ready"}
        await ws.send(two_sentences[: FRAME_SAMPLES * 10].tobytes())
        ws.transport.abort()  # no close handshake: the client just disappears
        assert await eventually(lambda: double.busy_slots == 0, timeout=2.0)
        await still_serves(server.url, two_sentences)  # the single slot is free again


async def test_backend_that_is_not_a_websocket_server(proxy: ProxyFactory) -> None:
    """A restarting backend (or a wrong port) that answers garbage is retried, then reported."""

    async def garbage(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"220 not http\r\n\r\n")
        writer.close()

    server = await asyncio.start_server(garbage, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server, proxy(f"ws://127.0.0.1:{port}/api/asr-streaming", backend_timeout=1.0) as p:
        result = await send_then_collect(p.url, SPEECHLESS.tobytes())
    assert result.errors() == ["backend_unavailable"]
    assert "handshake failed" in str(result.messages[-1]["message"])
