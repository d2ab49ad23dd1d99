"""The "Test connection" check: one short stream of silence to the backend, timed (no Qt).

::

    report = await check_connection(endpoint)
    print(report.describe())  # Connected to ... in 120 ms; backend ready after 300 ms; ...

The check connects, sends half a second of silence, waits for ``ready`` (a cold Modal backend
takes 20-30 s), sends ``end`` and waits for the server's ``end``. Failures raise the stream
client's errors (:class:`~app.backend.stream_client.StreamClientError` and subclasses:
``ConnectError``, ``Unauthorized``, ``StreamError``, ``StreamClosed``...), or
:class:`CheckTimeout`; their text is fit to show as is.
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import numpy.typing as npt

from app.backend.connect import open_v1_stream
from app.backend.stream_client import StreamClientError
from app.core.credentials import SecretLookup
from app.core.endpoint import Endpoint, endpoint_for, redact_url
from app.core.settings import BackendSettings
from server.protocol.audio import FRAME_SAMPLES
from server.protocol.stream import End, Ready, ServerMessage

SILENCE_FRAMES = 6  # 6 x 1920 samples = 0.48 s
COLD_START_S = 5.0  # slower than this to be ready: the backend was starting up


class CheckStream(Protocol):
    """What the check needs of a stream client
    (:class:`~app.backend.stream_client.StreamClient`)."""

    async def send_audio(self, samples: npt.NDArray[np.float32]) -> None: ...

    async def end(self) -> None: ...

    def messages(self) -> AsyncIterator[ServerMessage]: ...

    @property
    def legacy(self) -> bool:
        """Whether the server is the original service (no ready, no end of its own)."""
        ...


Connect = Callable[[Endpoint], AbstractAsyncContextManager[CheckStream]]


class CheckTimeout(StreamClientError):
    """The backend did not answer within the check's time limit."""


@dataclass(frozen=True)
class ConnectionReport:
    """How long each step took, in seconds from the start of the check (``round_trip_s``:
    from ``end`` sent to ``end`` received, the flush a dictation waits for at release)."""

    url: str  # redacted
    connected_s: float
    ready_s: float
    round_trip_s: float
    original: bool = False  # the original service: it says neither ready nor end

    @property
    def cold_start(self) -> bool:
        return self.ready_s >= COLD_START_S

    def describe(self) -> str:
        """One line for the settings dialog."""
        if self.original:
            return (
                f"Connected to {self.url} in {_duration(self.connected_s)}. It speaks the "
                "original service's older protocol (no ready, no end: the last words are "
                f"awaited for a model delay); the stream ended {_duration(self.round_trip_s)} "
                "after the end of speech."
            )
        cold = " (it was starting up: the first dictation after an idle spell waits this long)"
        return (
            f"Connected to {self.url} in {_duration(self.connected_s)}; backend ready after "
            f"{_duration(self.ready_s)}{cold if self.cold_start else ''}; "
            f"end-of-speech round trip {_duration(self.round_trip_s)}."
        )


async def check_connection(
    endpoint: Endpoint, *, timeout: float = 90.0, connect: Connect | None = None
) -> ConnectionReport:
    """Stream 0.48 s of silence to ``endpoint`` and time the connection, ``ready`` and the
    flush. ``connect`` opens the stream (default: :func:`~app.backend.connect.open_v1_stream`
    with an opening timeout of ``timeout``, since a cold Modal backend holds the handshake while
    it starts).

    Raises the stream client's errors, or :class:`CheckTimeout` after ``timeout`` seconds.
    """
    if connect is None:
        connect = functools.partial(open_v1_stream, open_timeout=timeout)
    where = redact_url(endpoint.url)
    clock = _Clock()
    step = "connecting"
    try:
        async with asyncio.timeout(timeout):
            async with connect(endpoint) as stream:
                connected_s = clock.elapsed()
                step = "waiting for the backend to be ready"
                silence = np.zeros(FRAME_SAMPLES, dtype=np.float32)
                for _ in range(SILENCE_FRAMES):
                    await stream.send_audio(silence)
                ready_s: float | None = None
                ended_at = 0.0
                async for message in stream.messages():
                    if isinstance(message, Ready) and ready_s is None:
                        ready_s = clock.elapsed()
                        step = "waiting for the end of the stream"
                        await stream.end()
                        ended_at = clock.elapsed()
                    elif isinstance(message, End):
                        assert ready_s is not None  # the client raises on End before end()
                        return ConnectionReport(
                            where,
                            connected_s,
                            ready_s,
                            clock.elapsed() - ended_at,
                            original=stream.legacy,
                        )
    except TimeoutError:
        raise CheckTimeout(f"no answer from {where} within {timeout:g} s ({step})") from None
    raise StreamClientError(f"{where}: the stream ended without the server's end")


async def check_backend(
    backend: BackendSettings,
    secrets: SecretLookup,
    *,
    connect: Connect | None = None,
    timeout: float = 90.0,
) -> str:
    """The settings dialog's check: the endpoint of ``backend`` with ``secrets`` (the
    environment's, else the values in the form), checked; returns
    :meth:`ConnectionReport.describe`. Raises :class:`~app.core.endpoint.EndpointError` for
    incomplete settings, else as :func:`check_connection`."""
    endpoint = endpoint_for(backend, secrets)
    report = await check_connection(endpoint, timeout=timeout, connect=connect)
    return report.describe()


def _duration(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms" if seconds < 1 else f"{seconds:.1f} s"


class _Clock:
    def __init__(self) -> None:
        self._start = time.monotonic()

    def elapsed(self) -> float:
        return time.monotonic() - self._start
