"""What one hostile connection can make the picows transport hold, and for how long.

The probes of issue 14 (section 1, defects 1 to 4), run black-box against ``--transport
picows``: a client that stops reading loses its stream and its backend slot; a client that
floods pings and reads nothing cannot grow the proxy's memory; shutdown finishes whatever a
client does; two ``Authorization`` headers are a 400. (The websockets transport gets the same
guarantees on its own branch; these tests then cover it by widening ``proxy_transport``.)
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import signal
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from websockets.frames import Opcode

from server.protocol.audio import FRAME_SAMPLES, FRAME_SECONDS
from server.proxy.channel import Transport
from tests.conftest import DoubleFactory, ProxyFactory, words_of
from tests.support.clients import eventually, stream_audio
from tests.support.proc import rss_mib
from tests.support.raw_client import frame, open_raw
from tests.support.speech import SENTENCES

ROOT = Path(__file__).resolve().parents[2]
FRAME = np.zeros(FRAME_SAMPLES, np.float32).tobytes()


@pytest.fixture
def proxy_transport() -> Transport:
    return Transport.PICOWS


async def open_non_reader(port: int) -> socket.socket:
    """An upgraded client socket (non-blocking) that reads nothing after the 101 answer, with
    a receive buffer as small as Linux allows, so that the proxy's writes back up at once."""
    client = await open_raw(port, receive_buffer=1024)
    assert client.status == 101, client.head
    return client.sock


async def send_audio_forever(sock: socket.socket) -> None:
    """Real-time audio frames until the proxy cuts the connection."""
    data = frame(Opcode.BINARY, FRAME)
    with contextlib.suppress(OSError):
        while True:
            sock.send(data)  # a short write is fine: the proxy stops reading us anyway
            await asyncio.sleep(FRAME_SECONDS)


async def test_a_client_that_pings_but_never_reads_loses_its_stream_and_slot(
    moshi_double: DoubleFactory, proxy: ProxyFactory, two_sentences: np.ndarray
) -> None:
    """Defect 1: one frame, then only pings; the idle rule ends the stream even though the
    client reads nothing (nothing waits forever on a send), and the slot goes to others."""
    async with (
        moshi_double(slots=1) as double,
        proxy(double.url, idle_timeout=1.0, send_timeout=1.0) as server,
    ):
        sock = await open_non_reader(server.port)
        try:
            await asyncio.get_running_loop().sock_sendall(sock, frame(Opcode.BINARY, FRAME))
            assert await eventually(lambda: double.busy_slots == 1, 10)

            async def ping() -> None:
                with contextlib.suppress(OSError):
                    while True:
                        with contextlib.suppress(BlockingIOError):  # a full buffer: next time
                            sock.send(frame(Opcode.PING, b"x"))
                        await asyncio.sleep(0.1)

            pinger = asyncio.create_task(ping())
            assert await eventually(lambda: double.busy_slots == 0, 15)
            result = await stream_audio(server.url, two_sentences)
            pinger.cancel()
        finally:
            sock.close()
    assert result.words == words_of(SENTENCES[:2])


async def test_a_client_that_streams_but_never_reads_is_cut_off_by_the_keepalive(
    moshi_double: DoubleFactory, proxy: ProxyFactory
) -> None:
    """Defect 1, the keepalive: audio keeps coming (so the idle rule never applies), but no
    pong comes back; the proxy cuts the client and frees the backend slot."""
    async with (
        moshi_double(slots=1) as double,
        proxy(double.url, keepalive_interval=0.5) as server,
    ):
        sock = await open_non_reader(server.port)
        sender = asyncio.create_task(send_audio_forever(sock))
        try:
            assert await eventually(lambda: double.busy_slots == 1, 10)
            assert await eventually(lambda: double.busy_slots == 0, 15)
            assert not sender.done() or sender.exception() is None
        finally:
            sender.cancel()
            sock.close()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def serve_process(port: int, backend: str, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "app", "serve", "--port", str(port), "--backend", backend, *args],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


async def wait_health(port: int) -> None:
    def get() -> bool:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2):
                return True
        except urllib.error.HTTPError:
            return True
        except OSError:
            return False

    for _ in range(300):
        if await asyncio.to_thread(get):
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the proxy never answered /healthz")


async def test_a_ping_flood_from_a_non_reader_cannot_grow_memory(
    moshi_double: DoubleFactory, two_sentences: np.ndarray
) -> None:
    """Defect 2: pongs the client does not read pile up nowhere: the proxy stops reading it
    and, after the send timeout, drops it; another client streams meanwhile."""
    async with moshi_double() as double:
        port = free_port()
        process = serve_process(port, double.url, "--transport", "picows", "--send-timeout", "2")
        try:
            await wait_health(port)
            before = rss_mib(process.pid)
            sock = await open_non_reader(port)
            burst = frame(Opcode.PING, b"p" * 125) * 512  # 512 pings of the largest control size
            sent = 0

            def flood() -> bool:
                """Send what the socket takes; False once the proxy has cut us off."""
                nonlocal sent
                try:
                    for _ in range(64):
                        sent += sock.send(burst)
                except BlockingIOError:
                    return True
                except OSError:
                    return False
                return True

            dropped = False
            for _ in range(2000):  # a bounded flood: at most some 15 s here
                if not flood():
                    dropped = True
                    break
                await asyncio.sleep(0.005)
            grown = rss_mib(process.pid) - before
            result = await stream_audio(f"ws://127.0.0.1:{port}/v1/stream", two_sentences)
            sock.close()
        finally:
            process.send_signal(signal.SIGTERM)
            _, stderr = await asyncio.to_thread(process.communicate, timeout=30)
    print(f"flood: {sent / 1e6:.1f} MB of pings sent; proxy RSS grew {grown:.1f} MiB")
    assert dropped, "the proxy kept a client that reads nothing"
    assert grown < 64, f"the proxy's memory grew by {grown:.0f} MiB"
    assert result.words == words_of(SENTENCES[:2])
    assert process.returncode == 0, stderr


async def test_shutdown_finishes_while_a_client_reads_nothing(
    moshi_double: DoubleFactory, proxy: ProxyFactory
) -> None:
    """Defect 3: shutdown flushes what it can in the grace period, then cuts the rest."""
    async with moshi_double() as double, proxy(double.url, shutdown_grace=0.5) as server:
        sock = await open_non_reader(server.port)
        sender = asyncio.create_task(send_audio_forever(sock))
        try:
            assert await eventually(lambda: double.busy_slots == 1, 10)
            await asyncio.wait_for(server.shutdown(), 30)  # it returns: no hang
            assert await eventually(lambda: double.busy_slots == 0, 10)
        finally:
            sender.cancel()
            sock.close()


async def test_two_authorization_headers_are_a_bad_request(
    moshi_double: DoubleFactory, proxy: ProxyFactory, caplog: pytest.LogCaptureFixture
) -> None:
    """Defect 4: 400 and one log line, no 500 and no traceback; and a wrong token counts."""
    caplog.set_level(logging.INFO)
    async with moshi_double() as double, proxy(double.url, tokens=frozenset({"sesame"})) as server:
        two = await asyncio.to_thread(
            _raw_request, server.port, ["Authorization: Bearer a", "Authorization: Bearer b"]
        )
        wrong = await asyncio.to_thread(_raw_request, server.port, ["Authorization: Bearer x"])
        metrics = await asyncio.to_thread(
            lambda: urllib.request.urlopen(f"http://127.0.0.1:{server.port}/metrics").read()
        )
    assert two.startswith(b"HTTP/1.1 400")
    assert wrong.startswith(b"HTTP/1.1 401")
    assert json.loads(wrong.split(b"\r\n\r\n", 1)[1])["code"] == "unauthorized"
    assert b'kyutai_dictate_errors_total{code="unauthorized"} 2' in metrics  # both refused
    assert not [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]


def _raw_request(port: int, headers: list[str]) -> bytes:
    request = [
        "GET /v1/stream HTTP/1.1",
        f"Host: 127.0.0.1:{port}",
        "Upgrade: websocket",
        "Connection: Upgrade",
        "Sec-WebSocket-Key: " + "A" * 22 + "==",
        "Sec-WebSocket-Version: 13",
        *headers,
        "",
        "",
    ]
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall("\r\n".join(request).encode())
        answer = b""
        while chunk := sock.recv(4096):
            answer += chunk
    return answer
