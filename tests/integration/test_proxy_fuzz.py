"""The proxy's message handling fuzzed over loopback (ISSUE 14, section 2): hypothesis sends
arbitrary sequences of binary, text, ping and ``end`` messages, ending with ``end``, a close, a
vanished client or silence, to a real proxy in front of the double. Whatever comes, the proxy
answers only documented messages, ends with ``end`` or a documented ``error`` and its close
code, never ``internal``, and keeps serving."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Iterator
from contextlib import AsyncExitStack
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from server.protocol import ErrorCode, ProtocolError, stream
from server.protocol.audio import FRAME_SAMPLES
from server.proxy.config import ProxyConfig
from server.proxy.server import ProxyServer
from tests.conftest import FAST_STEP
from tests.support.fuzzing import scaled_examples
from tests.support.moshi_double import DoubleConfig, MoshiDouble
from tests.support.speech import SENTENCES

IDLE = 0.5  # the proxy's idle timeout here, so that a silent client ends soon
DOCUMENTED = {code.value for code in ErrorCode} - {ErrorCode.INTERNAL.value}


class Served:
    """The double and the proxy on an event loop of their own thread, for a sync test."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._stack = AsyncExitStack()
        self.proxy: ProxyServer
        self.double: MoshiDouble

    def __enter__(self) -> Served:
        self._thread.start()
        self._call(self._start())
        return self

    def __exit__(self, *exc: object) -> None:
        self._call(self._stack.aclose())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)

    def _call(self, coroutine: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(60)

    async def _start(self) -> None:
        double = MoshiDouble(DoubleConfig(list(SENTENCES), step_seconds=FAST_STEP))
        self.double = await self._stack.enter_async_context(double)
        config = ProxyConfig(
            port=0, backend_url=double.url, idle_timeout=IDLE, max_message_bytes=64 * 1024
        )
        self.proxy = await self._stack.enter_async_context(ProxyServer(config))


@pytest.fixture(scope="module")
def served() -> Iterator[Served]:
    with Served() as served:
        yield served
        assert served.proxy.stats.errors[ErrorCode.INTERNAL] == 0


noise = np.random.default_rng(7).uniform(-0.1, 0.1, FRAME_SAMPLES * 8).astype("<f4").tobytes()
texts = (
    st.sampled_from(['{"type": "end"}', '{"type": "ping"}', "{}", "[]", "null", '{"type": 1}'])
    | st.dictionaries(st.text(max_size=6), st.text(max_size=6) | st.integers(), max_size=3).map(
        json.dumps
    )
    | st.text(max_size=40)
)
steps = st.lists(
    st.one_of(
        st.binary(max_size=9000).map(lambda b: ("binary", b)),
        st.integers(1, 8).map(lambda n: ("binary", noise[: n * FRAME_SAMPLES * 4])),
        st.integers(0, 3).map(lambda n: ("binary", b"\x00" * (4 * n + 1))),  # odd length
        st.integers(64 * 1024 - 8, 64 * 1024 + 8).map(lambda n: ("binary", b"\x00" * n)),
        texts.map(lambda t: ("text", t)),
        st.binary(max_size=125).map(lambda b: ("ping", b)),
    ),
    max_size=10,
)
endings = st.sampled_from(["end", "close", "vanish", "silence"])


@settings(
    max_examples=scaled_examples(20, share=0.1),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(steps=steps, ending=endings)
def test_any_message_sequence_gets_documented_answers(
    served: Served, steps: list[tuple[str, Any]], ending: str
) -> None:
    with connect(served.proxy.url, max_size=None, open_timeout=20) as ws:
        closed_by_client = False
        try:
            for index, (kind, payload) in enumerate(steps):
                if kind == "ping":  # the client library wants each ping's data unique
                    ws.ping(payload[:120] + index.to_bytes(4, "big"))
                else:
                    ws.send(payload)
            if ending == "end":
                ws.send('{"type": "end"}')
            elif ending == "close":
                ws.close()
                closed_by_client = True
            elif ending == "vanish":
                ws.socket.close()
                return
        except ConnectionClosed:
            pass  # the proxy already refused something
        received = read_until_closed(ws)
    if closed_by_client:
        return
    messages = [stream.decode_server(text) for text in received]  # all well-formed
    final = [m for m in messages if not isinstance(m, stream.Ping)]
    assert final, "the stream ended without an end or an error"
    last = final[-1]
    assert isinstance(last, stream.End | stream.Error), last
    assert not [m for m in final[:-1] if isinstance(m, stream.End | stream.Error)]
    if isinstance(last, stream.Error):
        assert last.code is not None
        assert last.code.value in DOCUMENTED, last
        assert ws.close_code == last.code.close_code
    else:
        assert ws.close_code == 1000


def read_until_closed(ws: ClientConnection) -> list[str]:
    received = []
    try:
        while True:
            message = ws.recv(timeout=30)
            assert isinstance(message, str), "the proxy sent a binary message"
            received.append(message)
    except ConnectionClosed:
        return received
    except TimeoutError:
        raise AssertionError("the proxy neither answered nor closed") from None


def test_the_proxy_still_serves_after_the_fuzzing(served: Served) -> None:
    deadline = time.monotonic() + 10  # the last streams' slots are freed at the next step
    while served.double.busy_slots and time.monotonic() < deadline:
        time.sleep(0.02)
    with connect(served.proxy.url) as ws:
        ws.send(noise)
        ws.send('{"type": "end"}')
        received = read_until_closed(ws)
    try:
        types = [type(stream.decode_server(text)).__name__ for text in received]
    except ProtocolError as exc:
        raise AssertionError(exc) from None
    assert types[-1] == "End", received
    deadline = time.monotonic() + 10  # the handler ends just after the close
    while served.proxy.stats.streams_active and time.monotonic() < deadline:
        time.sleep(0.02)
    assert served.proxy.stats.streams_active == 0
