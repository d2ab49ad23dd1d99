"""Backend faults are reported early and clearly (ISSUE 14, 1.6 and section 2): moshi-server
(the double, as a real process) frozen with SIGSTOP, killed, or not yet started (a cold start,
which must still work). The proxy runs in-process; every check goes through its public face."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
from asyncio.subprocess import Process
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import numpy as np
import pytest
from websockets.asyncio.client import connect

from server.protocol.audio import FRAME_SAMPLES, FRAME_SECONDS
from tests.conftest import DoubleFactory, ProxyFactory, words_of
from tests.integration.test_proxy_health import health
from tests.integration.test_proxy_server import ROOT, free_port
from tests.support.clients import Transcript, eventually, receive_all, stream_audio
from tests.support.speech import SENTENCES
from tests.support.tcp_relay import tcp_relay

# How long a stream may wait before it is told; far under the backend timeout (60 s), which is
# what a stream waited before.
TOLD_WITHIN = 20.0


@asynccontextmanager
async def double_process(tmp_path: Path, port: int, slots: int = 4) -> AsyncIterator[Process]:
    """The moshi-server double as its own process, so that it can be frozen and killed."""
    sentences = tmp_path / "sentences.txt"
    sentences.write_text("\n".join(SENTENCES) + "\n")
    process = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "tests.support.moshi_double", "--port", str(port)),
        *("--sentences", str(sentences), "--step-ms", "20", "--slots", str(slots)),
        cwd=ROOT,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        assert await eventually(lambda: listening(port), timeout=30)
        yield process
    finally:
        if process.returncode is None:
            os.kill(process.pid, signal.SIGCONT)
            process.kill()
            await process.wait()


def listening(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def backend_url(port: int) -> str:
    return f"ws://127.0.0.1:{port}/api/asr-streaming"


async def open_stream(url: str, audio: np.ndarray) -> Transcript:
    """Open a stream, send some audio, and read what comes until the proxy closes it."""
    transcript = Transcript()
    async with connect(url) as ws:
        receiver = asyncio.create_task(receive_all(ws, transcript))
        await ws.send(np.asarray(audio, "<f4").tobytes())
        await asyncio.wait_for(receiver, TOLD_WITHIN)
    return transcript


async def test_a_frozen_backend_is_reported_and_new_streams_are_told_early(
    proxy: ProxyFactory, two_sentences: np.ndarray, tmp_path: Path
) -> None:
    port = free_port()
    async with (
        double_process(tmp_path, port) as backend,
        proxy(backend_url(port), health_interval=0.5) as server,
    ):
        first = await stream_audio(server.url, two_sentences, speed=8)
        assert first.words == words_of(SENTENCES[:2])
        os.kill(backend.pid, signal.SIGSTOP)
        try:

            async def unhealthy() -> bool:
                return (await health(server.port))[0] == 503

            assert await _until(unhealthy, TOLD_WITHIN)
            told = await open_stream(server.url, two_sentences[:24000])
            assert "ready" not in told.types
            assert told.errors() == ["backend_unavailable"]
            assert "retry" in str(told.messages[-1]["message"])
        finally:
            os.kill(backend.pid, signal.SIGCONT)

        async def healthy() -> bool:
            return (await health(server.port))[0] == 200

        assert await _until(healthy, TOLD_WITHIN)
        again = await stream_audio(server.url, two_sentences, speed=8)
        assert again.words == words_of(SENTENCES[:2])


async def test_a_stream_opened_while_the_backend_is_down_is_told_at_once(
    proxy: ProxyFactory, two_sentences: np.ndarray, tmp_path: Path
) -> None:
    port = free_port()
    async with (
        double_process(tmp_path, port) as backend,
        proxy(backend_url(port), health_interval=0.5) as server,
    ):
        first = await stream_audio(server.url, two_sentences, speed=8)
        assert first.words == words_of(SENTENCES[:2])
        backend.kill()
        await backend.wait()

        async def down() -> bool:
            return (await health(server.port))[0] == 503

        assert await _until(down, TOLD_WITHIN)
        told = await open_stream(server.url, two_sentences[:24000])
    assert "ready" not in told.types
    assert told.errors() == ["backend_unavailable"]


async def test_a_backend_still_starting_is_waited_for(
    proxy: ProxyFactory, two_sentences: np.ndarray, tmp_path: Path
) -> None:
    """A cold start is not a stall: a proxy that has never seen its backend up waits for it."""
    port = free_port()
    async with proxy(backend_url(port), health_interval=0.2) as server:
        transcript = Transcript()
        async with connect(server.url) as ws:
            receiver = asyncio.create_task(receive_all(ws, transcript))
            await ws.send(two_sentences.tobytes())

            async def seen_down() -> bool:  # the port opens late (a model loading)
                return (await health(server.port))[0] == 503

            assert await _until(seen_down, TOLD_WITHIN)
            async with double_process(tmp_path, port):
                assert await eventually(lambda: "ready" in transcript.types, timeout=30)
                await ws.send('{"type": "end"}')
                await asyncio.wait_for(receiver, 30)
    assert transcript.words == words_of(SENTENCES[:2])


async def _until(condition: object, timeout: float) -> bool:
    deadline = asyncio.get_running_loop().time() + timeout
    while not await condition():  # type: ignore[operator]
        if asyncio.get_running_loop().time() > deadline:
            return False
        await asyncio.sleep(0.1)
    return True


async def test_a_backend_killed_mid_stream_is_reported_and_the_next_stream_works(
    proxy: ProxyFactory, two_sentences: np.ndarray, tmp_path: Path
) -> None:
    port = free_port()
    async with proxy(backend_url(port), health_interval=0.5) as server:
        async with double_process(tmp_path, port) as backend:
            transcript = Transcript()
            async with connect(server.url) as ws:
                receiver = asyncio.create_task(receive_all(ws, transcript))
                await ws.send(two_sentences[:24000].tobytes())
                assert await eventually(lambda: "ready" in transcript.types, timeout=10)
                backend.kill()
                await asyncio.wait_for(receiver, TOLD_WITHIN)
        assert transcript.errors() == ["backend_unavailable"]
        assert transcript.close_code == 1011
        async with double_process(tmp_path, port):  # restarted by its service manager
            again = await stream_audio(server.url, two_sentences, speed=8)
    assert again.words == words_of(SENTENCES[:2])


async def test_a_backend_frozen_under_an_active_stream_is_reported(
    proxy: ProxyFactory, two_sentences: np.ndarray, tmp_path: Path
) -> None:
    """The proxy's pings to the backend find it frozen (SIGSTOP) mid-stream; the client is told
    (here after 1 s without a pong; 20 s by default), and the next stream works once it thaws."""
    port = free_port()
    async with (
        double_process(tmp_path, port) as backend,
        proxy(backend_url(port), backend_ping_timeout=1.0) as server,
    ):
        transcript = Transcript()
        try:
            async with connect(server.url) as ws:
                receiver = asyncio.create_task(receive_all(ws, transcript))
                await ws.send(two_sentences[:24000].tobytes())
                assert await eventually(lambda: "ready" in transcript.types, timeout=10)
                os.kill(backend.pid, signal.SIGSTOP)
                await ws.send(two_sentences[24000:48000].tobytes())
                await asyncio.wait_for(receiver, TOLD_WITHIN)
        finally:
            os.kill(backend.pid, signal.SIGCONT)
        assert transcript.errors() == ["backend_unavailable"]
        again = await stream_audio(server.url, two_sentences, speed=8)
    assert again.words == words_of(SENTENCES[:2])


@pytest.mark.parametrize("where", ["client-proxy", "proxy-backend"])
async def test_a_network_stall_loses_no_word(
    moshi_double: DoubleFactory, proxy: ProxyFactory, two_sentences: np.ndarray, where: str
) -> None:
    """A link that stops forwarding for seconds, then recovers: every word still arrives once."""
    async with moshi_double() as double, tcp_relay() as relay:
        to_backend = where == "proxy-backend"
        url = backend_url(relay.port) if to_backend else double.url
        async with proxy(url, idle_timeout=30.0) as server:
            relay.target_port = double.port if to_backend else server.port
            stream_url = server.url if to_backend else f"ws://127.0.0.1:{relay.port}/v1/stream"
            transcript = Transcript()
            async with connect(stream_url) as ws:
                receiver = asyncio.create_task(receive_all(ws, transcript))
                half = len(two_sentences) // 2
                await send_paced(ws, two_sentences[:half])
                relay.stall()
                await send_paced(ws, two_sentences[half:])  # piles up while stalled
                relay.resume()
                await ws.send('{"type": "end"}')
                await asyncio.wait_for(receiver, 60)
    assert transcript.words == words_of(SENTENCES[:2])
    assert transcript.types[-1] == "end"


async def send_paced(ws: object, audio: np.ndarray) -> None:
    for start in range(0, len(audio), FRAME_SAMPLES):
        await ws.send(audio[start : start + FRAME_SAMPLES].tobytes())  # type: ignore[attr-defined]
        await asyncio.sleep(FRAME_SECONDS / 4)
