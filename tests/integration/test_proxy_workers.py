"""``kyutai-dictate serve --workers N``: N processes serve one port (SO_REUSEPORT)."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

import numpy as np

from tests.conftest import DoubleFactory, words_of
from tests.integration.test_proxy_transport_limits import free_port, serve_process, wait_health
from tests.support.clients import stream_audio
from tests.support.speech import SENTENCES


def children(pid: int) -> list[int]:
    text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    return [int(child) for child in text.split()]


def alive(pid: int) -> bool:
    return Path(f"/proc/{pid}").exists()


async def test_several_workers_share_one_port_and_stop_together(
    moshi_double: DoubleFactory, two_sentences: np.ndarray
) -> None:
    async with moshi_double(slots=4) as double:
        port = free_port()
        process = serve_process(port, double.url, "--workers", "2")
        try:
            await wait_health(port)
            workers = children(process.pid)
            url = f"ws://127.0.0.1:{port}/v1/stream"
            results = await asyncio.gather(
                *(stream_audio(url, two_sentences, speed=8.0) for _ in range(4))
            )
        finally:
            process.send_signal(signal.SIGTERM)
            _, stderr = await asyncio.to_thread(process.communicate, timeout=30)
    assert len(workers) == 2
    assert all(r.words == words_of(SENTENCES[:2]) for r in results)
    assert process.returncode == 0, stderr
    assert not any(alive(pid) for pid in workers)


def test_several_workers_need_a_fixed_port() -> None:
    process = serve_process(0, "ws://127.0.0.1:1/api/asr-streaming", "--workers", "2")
    _, stderr = process.communicate(timeout=30)
    assert process.returncode == 2
    assert "fixed port" in stderr
