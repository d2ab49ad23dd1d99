"""Hostile clients against the proxy, as a black box on loopback (ISSUE 14, section 1): clients
that never read, ping floods, SIGTERM under them, duplicate headers, oversized frames, and
errors that must show in ``/metrics``. Every client here is a bare socket
(:mod:`tests.support.raw_client`), so the same tests hold for any transport of the proxy."""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import json
import logging
import signal

import numpy as np
import pytest
from websockets.frames import Opcode

from server.proxy.channel import Transport
from tests.conftest import DoubleFactory, ProxyFactory, each_transport, words_of
from tests.integration.test_proxy_server import free_port, serve_process, wait_listening
from tests.support.clients import stream_audio
from tests.support.raw_client import (
    RawClient,
    flood_pings,
    huge_frame_header,
    open_raw,
    server_frames,
)
from tests.support.speech import SENTENCES

# The defects were found on the websockets transport; both must hold.
proxy_transport = pytest.fixture(params=list(Transport), ids=str)(each_transport)

TOKENS = frozenset({"hostile-test-token"})
SMALL_RECEIVE_BUFFER = 4096
FILL_SOCKET_BUFFERS = 8 << 20  # more pongs than loopback's socket buffers hold (tcp_wmem max 4 MiB)


def http_get(port: int, path: str) -> http.client.HTTPResponse:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    connection.request("GET", path)
    response = connection.getresponse()
    response.read()
    connection.close()
    return response


async def metric(port: int, name: str) -> float:
    """One sample of ``/metrics`` (``name`` with its labels, as written there)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    await asyncio.to_thread(connection.request, "GET", "/metrics")
    response = await asyncio.to_thread(connection.getresponse)
    body = (await asyncio.to_thread(response.read)).decode()
    connection.close()
    for line in body.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[-1])
    raise AssertionError(f"{name} is not in /metrics")


async def streams_active(port: int) -> float:
    return await metric(port, "kyutai_dictate_streams_active")


async def non_reader(port: int, audio: np.ndarray) -> RawClient:
    """A client that sends ``audio`` then floods pings and never reads a byte."""
    client = await open_raw(port, receive_buffer=SMALL_RECEIVE_BUFFER)
    assert client.status == 101, client.head
    await client.send_frame(Opcode.BINARY, np.asarray(audio, "<f4").tobytes())
    await flood_pings(client, FILL_SOCKET_BUFFERS)
    return client


async def keep_pinging(clients: list[RawClient]) -> None:
    """What the reported clients did after the flood: a ping now and then, never a read."""
    while True:
        for client in clients:
            with contextlib.suppress(OSError):
                await client.send_frame(Opcode.PING, b"still here")
        await asyncio.sleep(0.2)


async def until_async(condition: object, timeout: float) -> bool:
    """Poll an async ``condition()`` until it holds or ``timeout`` passes."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        if await condition():  # type: ignore[operator]
            return True
        if asyncio.get_running_loop().time() > deadline:
            return False
        await asyncio.sleep(0.1)


async def test_a_client_that_never_reads_loses_its_stream_and_slot(
    moshi_double: DoubleFactory, proxy: ProxyFactory, two_sentences: np.ndarray
) -> None:
    """Defect 1: four clients that stop reading held every backend slot until they left."""
    async with (
        moshi_double() as double,
        proxy(double.url, idle_timeout=1.0, send_timeout=2.0, max_client_buffer=64 << 20) as server,
    ):
        clients = [await non_reader(server.port, two_sentences) for _ in range(4)]
        pinging = asyncio.create_task(keep_pinging(clients))
        try:

            async def all_released() -> bool:
                return double.busy_slots == 0 and await streams_active(server.port) == 0

            assert await until_async(all_released, 30)
            result = await stream_audio(server.url, two_sentences)
            assert result.words == words_of(SENTENCES[:2])
        finally:
            pinging.cancel()
            for client in clients:
                client.close()


async def test_a_ping_flood_that_is_never_read_is_cut_off(
    moshi_double: DoubleFactory, proxy: ProxyFactory, two_sentences: np.ndarray
) -> None:
    """Defect 2: the proxy queued a pong for every ping of a client that never reads."""
    flood = 64 << 20
    async with moshi_double() as double, proxy(double.url) as server:
        client = await open_raw(server.port, receive_buffer=SMALL_RECEIVE_BUFFER)
        try:
            sent = await flood_pings(client, flood)
            assert sent < flood  # the proxy dropped the connection instead of buffering
            assert await until_async(lambda: _zero(streams_active(server.port)), 10)
        finally:
            client.close()
        result = await stream_audio(server.url, two_sentences)
    assert result.words == words_of(SENTENCES[:2])


async def _zero(value: asyncio.Future[float] | object) -> bool:
    return await value == 0  # type: ignore[misc]


async def test_sigterm_finishes_while_a_client_never_reads(
    moshi_double: DoubleFactory, two_sentences: np.ndarray
) -> None:
    """Defect 3: shutdown waited for a client that does not read, for as long as it stayed."""
    async with moshi_double() as double:
        port = free_port()
        env = {
            "KYUTAI_DICTATE_SHUTDOWN_GRACE": "1",
            "KYUTAI_DICTATE_MAX_CLIENT_BUFFER": str(64 << 20),
        }
        process = serve_process("--port", str(port), "--backend", double.url, env=env)
        client = None
        try:
            await wait_listening(port, process)
            client = await non_reader(port, two_sentences)
            process.send_signal(signal.SIGTERM)
            _, stderr = await asyncio.to_thread(process.communicate, timeout=40)
        finally:
            process.kill()
            if client is not None:
                client.close()
    assert process.returncode == 0, stderr


async def test_two_authorization_headers_get_a_client_error_and_one_log_line(
    moshi_double: DoubleFactory, proxy: ProxyFactory, caplog: pytest.LogCaptureFixture
) -> None:
    """Defect 4: a request with two ``Authorization`` headers got HTTP 500 and a traceback."""
    caplog.set_level(logging.INFO)
    headers = (("Authorization", "Bearer hostile-test-token"), ("Authorization", "Bearer x"))
    async with moshi_double() as double, proxy(double.url, tokens=TOKENS) as server:
        client = await open_raw(server.port, headers=headers)
        client.close()
        assert double.sessions_started == 0
    assert client.status in (400, 401), client.head
    assert [r for r in caplog.records if r.levelno >= logging.ERROR] == []
    assert not any(r.exc_info for r in caplog.records)


async def test_a_message_over_the_hard_limit_gets_a_too_large_error_and_is_counted(
    moshi_double: DoubleFactory, proxy: ProxyFactory
) -> None:
    """Defect 5: over the hard limit only a 1009 close came, with no error and no count."""
    async with moshi_double() as double, proxy(double.url, max_message_bytes=64 * 1024) as server:
        client = await open_raw(server.port)
        await client.send(huge_frame_header(100 << 20) + b"\x00" * 4096)
        frames = server_frames(await asyncio.wait_for(client.read_until_closed(), 20))
        client.close()
        texts = [json.loads(payload) for opcode, payload in frames if opcode is Opcode.TEXT]
        assert [m.get("code") for m in texts if m["type"] == "error"] == ["too_large"]
        closes = [payload for opcode, payload in frames if opcode is Opcode.CLOSE]
        assert int.from_bytes(closes[0][:2], "big") == 1009
        assert await metric(server.port, 'kyutai_dictate_errors_total{code="too_large"}') == 1


async def test_rejected_tokens_are_counted(
    moshi_double: DoubleFactory, proxy: ProxyFactory
) -> None:
    """Defect 5: ``errors_total{code="unauthorized"}`` stayed 0 after rejected attempts."""
    async with moshi_double() as double, proxy(double.url, tokens=TOKENS) as server:
        for attempt in range(5):
            wrong = (("Authorization", f"Bearer no{attempt}"),)
            client = await open_raw(server.port, headers=wrong)
            client.close()
            assert client.status == 401
        assert await metric(server.port, 'kyutai_dictate_errors_total{code="unauthorized"}') == 5


async def test_healthz_sends_one_content_type(
    moshi_double: DoubleFactory, proxy: ProxyFactory
) -> None:
    """Defect 5: ``/healthz`` sent two ``Content-Type`` headers."""
    async with moshi_double() as double, proxy(double.url) as server:
        response = await asyncio.to_thread(http_get, server.port, "/healthz")
    content_types = [v for k, v in response.getheaders() if k.lower() == "content-type"]
    assert content_types == ["application/json"]
