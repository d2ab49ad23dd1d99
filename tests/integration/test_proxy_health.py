"""``/healthz`` and ``/metrics`` say whether a stream would really work (issue 8, section 5):
moshi-server's ``/api/modules_info`` against the proxy's own streams, never a probe session."""

from __future__ import annotations

import asyncio
import json
import logging
import sys

import numpy as np
import pytest
from websockets.asyncio.client import connect

from server.protocol.audio import silence
from server.proxy.channel import Transport
from tests.conftest import DoubleFactory, ProxyFactory, each_transport
from tests.integration.test_proxy_server import (
    ROOT,
    free_port,
    http_get,
    run_async,
    serve_process,
)
from tests.support.clients import Transcript, eventually, receive_all, stream_audio

proxy_transport = pytest.fixture(params=list(Transport), ids=str)(each_transport)


async def health(port: int) -> tuple[int, dict[str, object]]:
    status, body = await asyncio.to_thread(http_get, f"http://127.0.0.1:{port}/healthz")
    return status, json.loads(body)


async def test_a_dead_model_loop_is_reported_as_stalled_not_ok(
    moshi_double: DoubleFactory, proxy: ProxyFactory
) -> None:
    """The port is open and the handshake works, but every session gets "no free channels"."""
    async with (
        moshi_double(slots=2, failed_loop=True) as double,
        proxy(double.url, stall_timeout=0.5) as server,
    ):
        status, body = await health(server.port)
        assert status == 503
        assert (body["used_slots"], body["total_slots"], body["proxy_streams"]) == (2, 2, 0)
        await asyncio.sleep(0.6)
        status, body = await health(server.port)
        assert (status, body["status"]) == (503, "stalled")
        assert "model loop" in str(body["detail"])
        assert double.sessions_started == 0  # checked without opening a session
        _, metrics = await asyncio.to_thread(http_get, f"http://127.0.0.1:{server.port}/metrics")
    assert "kyutai_dictate_backend_healthy 0" in metrics
    assert 'kyutai_dictate_backend_status{status="stalled"} 1' in metrics
    assert "kyutai_dictate_backend_slots_used 2" in metrics


async def test_a_backend_full_of_the_proxys_own_streams_is_busy_not_stalled(
    moshi_double: DoubleFactory, proxy: ProxyFactory
) -> None:
    async with (
        moshi_double(slots=1) as double,
        proxy(double.url, stall_timeout=0.3, idle_timeout=5.0) as server,
    ):
        status, body = await health(server.port)
        assert (status, body["status"], body["used_slots"]) == (200, "ok", 0)
        _, metrics = await asyncio.to_thread(http_get, f"http://127.0.0.1:{server.port}/metrics")
        assert "kyutai_dictate_backend_healthy 1" in metrics
        transcript = Transcript()
        async with connect(server.url) as ws:
            receiver = asyncio.create_task(receive_all(ws, transcript))
            await ws.send(silence(2).tobytes())
            assert await eventually(lambda: {"type": "ready"} in transcript.messages, 10)
            await asyncio.sleep(0.5)  # longer than the stall timeout: the slot is ours
            status, body = await health(server.port)
            assert (status, body["status"], body["proxy_streams"]) == (503, "busy", 1)
            await ws.send(json.dumps({"type": "end"}))
            await asyncio.wait_for(receiver, 10)

        async def ok_again() -> bool:
            return (await health(server.port))[0] == 200

        for _ in range(50):
            if await ok_again():
                break
            await asyncio.sleep(0.1)
        assert await ok_again()


async def test_an_unreachable_backend_is_reported(proxy: ProxyFactory) -> None:
    async with proxy(f"ws://127.0.0.1:{free_port()}/api/asr-streaming") as server:
        status, body = await health(server.port)
    assert (status, body["status"], body["backend_reachable"]) == (
        503,
        "backend_unreachable",
        False,
    )


@pytest.mark.parametrize(
    "answer",
    [b"garbage\r\n\r\n", b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n[{"],
    ids=["bad status line", "short body"],
)
async def test_a_backend_that_answers_garbage_is_unreachable_and_shutdown_still_works(
    proxy: ProxyFactory, answer: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    """Not a moshi-server on that port: /healthz says so, and the watcher and the shutdown
    survive urllib's http.client errors (which are not OSErrors)."""

    async def garbage(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(answer)
        await writer.drain()
        writer.close()

    listener = await asyncio.start_server(garbage, "127.0.0.1", 0)
    port = listener.sockets[0].getsockname()[1]
    caplog.set_level(logging.INFO, logger="kyutai_dictate.proxy")
    backend = f"ws://127.0.0.1:{port}/api/asr-streaming"
    async with listener, proxy(backend, health_interval=0.05) as server:
        status, body = await health(server.port)
        assert (status, body["status"]) == (503, "backend_unreachable")
        assert "answered garbage" in str(body["detail"])
        # the watcher saw it too, and goes on
        assert await eventually(lambda: "backend health" in caplog.text, timeout=10)
    # leaving the proxy's block shut it down: no exception from the watcher


async def serve_until_exit(*args: str) -> tuple[int, str]:
    """``kyutai-dictate serve ARGS`` until it exits by itself: its status and stderr."""
    process = serve_process(*args)
    try:
        _, stderr = await asyncio.to_thread(process.communicate, timeout=30)
    finally:
        process.kill()
    return process.returncode, stderr


async def test_wait_backend_does_not_take_busy_for_up(moshi_double: DoubleFactory) -> None:
    async with moshi_double(slots=1, failed_loop=True) as double:
        returncode, stderr = await serve_until_exit(
            "--port",
            str(free_port()),
            "--backend",
            double.url,
            "--wait-backend",
            "--startup-timeout",
            "2",
        )
    assert returncode == 1
    assert "no free slot" in stderr


async def test_serve_exits_3_when_the_backend_stalls(moshi_double: DoubleFactory) -> None:
    """So that systemd restarts moshi-server and the proxy (kyutai-dictate-recover.service)
    and Modal replaces the container."""
    async with moshi_double(slots=2, failed_loop=True) as double:
        returncode, stderr = await serve_until_exit(
            "--port",
            str(free_port()),
            "--backend",
            double.url,
            "--exit-when-stalled",
            "--stall-timeout",
            "0.5",
            "--health-interval",
            "0.2",
        )
    assert returncode == 3, stderr
    assert "stalled" in stderr


async def test_a_healthy_backend_keeps_serving_with_exit_when_stalled(
    moshi_double: DoubleFactory, two_sentences: np.ndarray
) -> None:
    """Streams come and go (their slots are freed a step later): no false alarm."""
    async with moshi_double(slots=2) as double:
        port = free_port()
        process = serve_process(
            "--port",
            str(port),
            "--backend",
            double.url,
            "--exit-when-stalled",
            "--stall-timeout",
            "1",
            "--health-interval",
            "0.1",
        )
        try:
            for _ in range(100):
                if (await asyncio.to_thread(_listening, port)) or process.poll() is not None:
                    break
                await asyncio.sleep(0.1)
            url = f"ws://127.0.0.1:{port}/v1/stream"
            for _ in range(3):
                result = await stream_audio(url, two_sentences[: 24000 * 3], speed=8.0)
                assert result.types[-1] == "end"
            await asyncio.sleep(1.5)
            assert process.poll() is None
        finally:
            process.terminate()
            await asyncio.to_thread(process.communicate, timeout=30)


def _listening(port: int) -> bool:
    import socket

    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


async def test_smoke_test_reports_a_stalled_backend(
    moshi_double: DoubleFactory, proxy: ProxyFactory
) -> None:
    async with (
        moshi_double(slots=1, failed_loop=True) as double,
        proxy(double.url, stall_timeout=0.1) as server,
    ):
        await asyncio.sleep(0.2)
        await health(server.port)  # starts the stall clock
        await asyncio.sleep(0.2)
        command = [sys.executable, "-m", "server.deploy.smoke_test", "--url", server.url]
        done = await run_async(command)
    assert done.returncode == 1
    assert "stalled" in done.stderr


async def test_deploy_status_shows_the_health_of_an_endpoint(
    moshi_double: DoubleFactory, proxy: ProxyFactory
) -> None:
    async with moshi_double(slots=1) as double, proxy(double.url) as server:
        good = await run_async(
            [sys.executable, "-m", "app", "deploy", "status", "--url", server.url]
        )
    async with (
        moshi_double(slots=1, failed_loop=True) as double,
        proxy(double.url, stall_timeout=0.1) as server,
    ):
        await health(server.port)
        await asyncio.sleep(0.2)
        bad = await run_async(
            [sys.executable, "-m", "app", "deploy", "status", "--url", server.url]
        )
    assert good.returncode == 0, good.stderr
    assert "ok" in good.stdout
    assert bad.returncode == 1
    assert "stalled" in bad.stdout + bad.stderr


def test_the_proxy_unit_restarts_the_pair_when_the_backend_stalls() -> None:
    proxy_unit = (ROOT / "server/deploy/systemd/kyutai-dictate-proxy.service").read_text()
    recover = (ROOT / "server/deploy/systemd/kyutai-dictate-recover.service").read_text()
    assert "--exit-when-stalled" in proxy_unit
    assert "RestartPreventExitStatus=3" in proxy_unit  # not the proxy alone: both, below
    assert "OnFailure=kyutai-dictate-recover.service" in proxy_unit
    assert "restart kyutai-moshi-server.service kyutai-dictate-proxy.service" in recover
    install = (ROOT / "server/deploy/proxmox/container-install.sh").read_text()
    assert "kyutai-dictate-recover.service" in install
