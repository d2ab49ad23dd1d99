"""Brakes on abuse (ISSUE 14, 1.7): failed auth attempts per address, concurrent connections
per token (per address without auth), and audio much faster than real time, all through the
proxy's public face on loopback. The defaults let the 400-stream benchmark through."""

from __future__ import annotations

import asyncio
import json
import time

import numpy as np
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from server.protocol.audio import FRAME_SAMPLES, SAMPLE_RATE
from server.proxy.channel import Transport
from server.proxy.config import ProxyConfig
from tests.conftest import DoubleFactory, ProxyFactory, each_transport, words_of
from tests.support.clients import stream_audio
from tests.support.raw_client import open_plain, open_raw
from tests.support.speech import SENTENCES

# The defects were found on the websockets transport; both must hold.
proxy_transport = pytest.fixture(params=list(Transport), ids=str)(each_transport)

TOKENS = frozenset({"limits-test-token-a", "limits-test-token-b"})


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_repeated_wrong_tokens_are_slowed_down(
    moshi_double: DoubleFactory, proxy: ProxyFactory
) -> None:
    async with (
        moshi_double() as double,
        proxy(double.url, tokens=TOKENS, max_failed_auth=5) as server,
    ):
        statuses = []
        for attempt in range(8):
            client = await open_raw(server.port, headers=(("Authorization", f"Bearer {attempt}"),))
            client.close()
            statuses.append(client.status)
        assert statuses == [401] * 5 + [429] * 3
        assert "Retry-After:" in client.head
        # Locked out means locked out: a right token from that address waits too, so that a
        # guess cannot be told right by its answer.
        with pytest.raises(InvalidStatus) as caught:
            await connect(server.url, additional_headers=bearer("limits-test-token-a"))
        assert caught.value.response.status_code == 429
        assert json.loads(caught.value.response.body)["code"] == "unauthorized"


@pytest.mark.parametrize("auth", [True, False], ids=["per-token", "per-address"])
async def test_concurrent_connections_are_limited_per_key(
    moshi_double: DoubleFactory, proxy: ProxyFactory, auth: bool
) -> None:
    tokens = TOKENS if auth else frozenset()
    async with (
        moshi_double(slots=8) as double,
        proxy(double.url, tokens=tokens, max_connections=2) as server,
    ):
        a = bearer("limits-test-token-a") if auth else {}
        async with (
            connect(server.url, additional_headers=a),
            connect(server.url, additional_headers=a),
        ):
            with pytest.raises(InvalidStatus) as caught:
                await connect(server.url, additional_headers=a)
            assert caught.value.response.status_code == 429
            assert json.loads(caught.value.response.body)["code"] == "busy"
            if auth:  # another token is another key
                async with connect(server.url, additional_headers=bearer("limits-test-token-b")):
                    pass
        # the slots are given back when the connections close
        async with connect(server.url, additional_headers=a):
            pass


async def test_connections_that_never_become_streams_give_their_count_back(
    moshi_double: DoubleFactory, proxy: ProxyFactory
) -> None:
    """A request refused after admission (no WebSocket upgrade headers), or one whose client
    hangs up at once (a reset right after the request), counts for no more than a moment:
    otherwise a few such requests would lock the key out until the proxy restarts."""
    auth = bearer("limits-test-token-a")
    async with (
        moshi_double() as double,
        proxy(double.url, tokens=TOKENS, max_connections=2) as server,
    ):
        loop = asyncio.get_running_loop()
        for _ in range(6):
            no_upgrade = await open_plain(server.port, auth)
            assert await no_upgrade.status() in (400, 426)  # refused: not a WebSocket request
            no_upgrade.close()
            gone = await open_plain(server.port, auth, upgrade=True)
            gone.reset()

        # The server notices the resets on its own time: wait until a stream is let in.
        async def admitted() -> bool:
            try:
                async with connect(server.url, additional_headers=auth, open_timeout=5):
                    return True
            except InvalidStatus:
                return False

        deadline = loop.time() + 10
        while not await admitted():
            assert loop.time() < deadline, "connections that never streamed still count"
            await asyncio.sleep(0.05)
        async with (
            connect(server.url, additional_headers=auth),
            connect(server.url, additional_headers=auth),
        ):
            pass  # both slots are free: nothing was left counted


async def test_audio_far_faster_than_real_time_is_slowed_to_the_limit(
    moshi_double: DoubleFactory, proxy: ProxyFactory
) -> None:
    speed, burst = 4.0, 1.0
    audio = np.zeros(SAMPLE_RATE * 10, np.float32)  # 10 s, sent as fast as the socket takes it
    async with (
        moshi_double() as double,
        proxy(double.url, max_audio_speed=speed, audio_burst_seconds=burst) as server,
        connect(server.url) as ws,
    ):
        sender = asyncio.create_task(send_all(ws, audio))
        started = time.monotonic()
        over: list[tuple[float, float]] = []
        while double.arrived_samples < len(audio) and time.monotonic() - started < 30:
            arrived = double.arrived_samples / SAMPLE_RATE
            allowed = burst + speed * (time.monotonic() - started) + 0.5  # + the first frames
            if arrived > allowed:
                over.append((arrived, allowed))
            await asyncio.sleep(0.05)
        await sender
        assert double.arrived_samples == len(audio)  # slowed, not cut
    assert over == []


async def send_all(ws: object, audio: np.ndarray) -> None:
    for start in range(0, len(audio), FRAME_SAMPLES * 4):
        await ws.send(audio[start : start + FRAME_SAMPLES * 4].tobytes())  # type: ignore[attr-defined]


async def test_a_cold_start_backlog_and_a_fast_file_are_not_slowed(
    moshi_double: DoubleFactory, proxy: ProxyFactory, two_sentences: np.ndarray
) -> None:
    """The defaults let the app's cold-start backlog (one burst) and --rtf up to the limit
    through, whole."""
    defaults = ProxyConfig()
    assert defaults.audio_burst_seconds >= 60
    assert defaults.max_audio_speed >= 4
    assert defaults.max_connections >= 400  # the 400-stream benchmark from one address
    async with moshi_double() as double, proxy(double.url) as server:
        burst = await stream_audio(server.url, two_sentences, chunk=len(two_sentences))
        paced = await stream_audio(server.url, two_sentences, speed=defaults.max_audio_speed)
    assert burst.words == paced.words == words_of(SENTENCES[:2])
