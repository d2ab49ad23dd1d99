"""Soak (ISSUE 14, section 2): many sessions through ``kyutai-dictate serve`` (a process) and the
double, with the proxy's memory and open file descriptors recorded at intervals; both must stay
flat. A short soak runs by default; the long one (10,000 sessions) is marked ``soak``:

    uv run pytest -m soak -s tests/integration/test_proxy_soak.py

``-s`` prints the samples; ``KYUTAI_DICTATE_SOAK_SESSIONS`` changes the count."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from websockets.asyncio.client import connect

from server.protocol.audio import SAMPLE_RATE
from tests.integration.test_proxy_backend_faults import backend_url, double_process, listening
from tests.integration.test_proxy_server import ROOT, free_port
from tests.support.clients import eventually
from tests.support.proc import open_fds, rss_mib

CONCURRENCY = 8
SAMPLES = 10  # memory and fd readings per soak, between two idle ones
WARM_UP = 10  # sessions before the first reading (imports, caches, the first connections)
RSS_GROWTH_LIMIT_MB = 16.0  # from the first reading after warm-up to the last
SHORT_SOAK = 100
LONG_SOAK = int(os.environ.get("KYUTAI_DICTATE_SOAK_SESSIONS", "10000"))


@dataclass(frozen=True)
class Reading:
    sessions: int
    seconds: float
    rss_mb: float
    fds: int


def read_process(pid: int, sessions: int, started: float) -> Reading:
    seconds = round(time.monotonic() - started, 1)
    return Reading(sessions, seconds, round(rss_mib(pid), 1), open_fds(pid))


async def one_session(url: str, audio: bytes) -> str:
    """A short dictation: audio, ``end``, read to the close; returns the last message type."""
    last = ""
    async with connect(url) as ws:
        await ws.send(audio)
        await ws.send('{"type": "end"}')
        async for text in ws:
            kind = json.loads(text)["type"]
            if kind != "ping":
                last = kind
    return last


async def soak(double_url: str, sessions: int, audio: np.ndarray, log: Path) -> list[Reading]:
    port = free_port()
    with log.open("w") as log_file:  # a file, not a pipe: a full pipe would block the proxy
        process = await asyncio.create_subprocess_exec(
            *(sys.executable, "-m", "app", "serve", "--port", str(port), "--backend", double_url),
            cwd=ROOT,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=log_file,
        )
    url = f"ws://127.0.0.1:{port}/v1/stream"
    payload = np.asarray(audio, "<f4").tobytes()
    readings: list[Reading] = []
    outcomes: dict[str, int] = {}
    try:
        assert await eventually(lambda: listening(port), timeout=30)
        started = time.monotonic()
        for _ in range(WARM_UP):
            await one_session(url, payload)
        readings.append(await idle_reading(process.pid, WARM_UP, started))
        every = max(1, sessions // SAMPLES)
        done = WARM_UP
        queue = iter(range(sessions))

        async def worker() -> None:
            nonlocal done
            for _ in queue:
                last = await one_session(url, payload)
                outcomes[last] = outcomes.get(last, 0) + 1
                done += 1
                if (done - WARM_UP) % every == 0:
                    readings.append(read_process(process.pid, done, started))

        await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
        readings.append(await idle_reading(process.pid, done, started))
    finally:
        process.send_signal(signal.SIGTERM)
        await asyncio.wait_for(process.wait(), 30)
    assert outcomes == {"end": sessions}, outcomes  # every one ended cleanly
    return readings


async def idle_reading(pid: int, sessions: int, started: float) -> Reading:
    """A reading once the connections of finished sessions have closed (fds stop falling)."""
    reading = read_process(pid, sessions, started)
    for _ in range(50):
        await asyncio.sleep(0.1)
        again = read_process(pid, sessions, started)
        if again.fds == reading.fds:
            return again
        reading = again
    return reading


def assert_flat(readings: list[Reading]) -> None:
    print("\nsessions  seconds  rss_mb  fds")
    for r in readings:
        print(f"{r.sessions:8d} {r.seconds:8.1f} {r.rss_mb:7.1f} {r.fds:4d}")
    first, last = readings[0], readings[-1]  # both idle: after a warm-up, and at the end
    assert last.rss_mb - first.rss_mb < RSS_GROWTH_LIMIT_MB, readings
    assert last.fds <= first.fds, readings


@pytest.mark.parametrize(
    "sessions",
    [
        pytest.param(SHORT_SOAK, id="short"),
        pytest.param(LONG_SOAK, id="long", marks=[pytest.mark.soak, pytest.mark.timeout(3600)]),
    ],
)
async def test_a_soak_keeps_memory_and_fds_flat(
    two_sentences: np.ndarray, tmp_path: Path, sessions: int
) -> None:
    port = free_port()
    async with double_process(tmp_path, port, slots=CONCURRENCY * 2):
        readings = await soak(
            backend_url(port), sessions, two_sentences[: SAMPLE_RATE // 4], tmp_path / "proxy.log"
        )
    assert_flat(readings)
