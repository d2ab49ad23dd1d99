"""Async client of moshi-server's ``/api/asr-streaming`` (PROTOCOL.md section 2) with the
interface of :class:`app.backend.stream_client.StreamClient`: the app talks to a moshi-server
directly.

::

    async with MoshiStreamClient.connect(endpoint) as stream:  # kyutai-api-key in the headers
        await stream.send_audio(frame)  # float32 samples at 24 kHz
        await stream.end()
        async for message in stream.messages():  # Ready, Token, VadEnd, then End
            ...

It is the I/O around :class:`~server.protocol.moshi_session.MoshiSession`, the rules the proxy
follows too (PROTOCOL.md section 3): audio is held until ``Ready`` and re-framed into
1920-sample ``Audio`` messages; ``Word`` becomes ``Token``; pause probabilities become
``VadEnd``; :meth:`end` flushes (padding, silence to cover the model delay, a ``Marker``, then
silence without real-time pacing until it comes back) and the echoed marker becomes ``End``, so
the last word is not lost. The flush's silence after the marker is sent from :meth:`messages`
as the ``Step``s come, so keep reading. Failures raise :mod:`app.backend.stream_client`'s
exceptions: ``Error`` becomes :class:`StreamError` with code ``busy`` (no free slot) or
``backend_unavailable``.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import numpy as np
import numpy.typing as npt
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed, InvalidStatus

from app.backend.stream_client import (
    ConnectError,
    SendStats,
    StreamError,
    StreamProtocolError,
    Unauthorized,
    closed_error,
    open_websocket,
    wire_logger,
)
from app.core.endpoint import Endpoint
from server.models import STT_1B, ModelProfile
from server.protocol import ErrorCode, ProtocolError, UnknownMessageType, moshi, stream
from server.protocol.moshi_session import MoshiSession

log = logging.getLogger(__name__)
_wire_log = wire_logger(__name__)
_marker_ids = itertools.count(1)


class MoshiStreamClient:
    """One moshi-server session on an open WebSocket connection. Use :meth:`connect`."""

    legacy = False  # not the original service's proxy

    def __init__(self, connection: ClientConnection, model: ModelProfile = STT_1B) -> None:
        self._connection = connection
        self._session = MoshiSession(model, next(_marker_ids))
        self._stats = SendStats()
        self._send_lock = asyncio.Lock()  # one sender at a time keeps the session's order
        self._flush_started = asyncio.Event()  # wakes a reader that waits without a timer

    @classmethod
    @asynccontextmanager
    async def connect(
        cls,
        endpoint: Endpoint,
        *,
        model: ModelProfile = STT_1B,
        open_timeout: float | None = 10.0,
        close_timeout: float | None = 5.0,
    ) -> AsyncIterator[MoshiStreamClient]:
        """Open a session on the moshi-server at ``endpoint`` serving ``model``; the connection
        (and its batch slot) is released when the block exits.

        Raises :class:`ConnectError` (:class:`Unauthorized` for HTTP 401/403).
        """
        connection = await open_websocket(
            endpoint,
            open_timeout=open_timeout,
            close_timeout=close_timeout,
            status_error=_status_error,
            server="moshi-server",
            # moshi-server drops a session after 20 s without any frame: pings keep one
            # whose caller pauses its audio alive.
            ping_interval=5,
            ping_timeout=20,
            logger=_wire_log,
        )
        try:
            yield cls(connection, model)
        finally:
            await connection.close()

    @property
    def stats(self) -> SendStats:
        """Counters and timestamps of what the caller sent so far (flush silence not counted)."""
        return self._stats

    async def send_audio(self, samples: npt.NDArray[np.float32]) -> None:
        """Send mono 24 kHz samples (held until the server is ready, then sent in whole frames;
        the rest of a frame waits for more audio or :meth:`end`).

        Raises :class:`StreamClosed` if the connection is gone.
        """
        if self._session.ended:
            raise RuntimeError("send_audio() after end()")
        pcm = np.asarray(samples, dtype=np.float32)
        if pcm.ndim != 1:
            raise ValueError(f"expected mono samples (1-D), got shape {pcm.shape}")
        if not len(pcm):
            return
        async with self._send_lock:
            self._session.audio(pcm)
            await self._send_data()
        self._stats.record_audio(len(pcm))

    async def end(self) -> None:
        """Say there is no more audio: flush now, or at ``Ready`` if it has not come. Idempotent."""
        if self._session.ended:
            return
        async with self._send_lock:
            self._session.end(time.monotonic())
            await self._send_data()
        self._flush_started.set()
        self._stats.end_sent_at = time.monotonic()

    async def messages(self) -> AsyncIterator[stream.ServerMessage]:
        """Yield ``/v1/stream`` messages; the last one is :class:`~server.protocol.stream.End`.

        Raises :class:`StreamError` on a server ``Error`` or a flush the server never finishes,
        :class:`StreamClosed` when the connection ends first, :class:`StreamProtocolError` on a
        malformed message. Call it from one task only.
        """
        while True:
            message = await self._receive()
            async with self._send_lock:
                if message is None:
                    self._session.timer(time.monotonic())
                else:
                    self._session.receive(message, time.monotonic())
                await self._send_data()
            for event in self._session.events():
                if isinstance(event, stream.Error):
                    raise StreamError(event.message, event.code or ErrorCode.BACKEND_UNAVAILABLE)
                yield event
                if isinstance(event, stream.End):
                    return

    async def _receive(self) -> moshi.ServerMessage | None:
        """The next server message; None when the session's timer is due (during a flush)."""
        while True:
            try:
                data = await self._recv()
            except ConnectionClosed as exc:
                raise closed_error(exc) from None
            if data is None:
                return None
            if isinstance(data, str):
                continue  # moshi-server defines no text frames
            try:
                return moshi.decode_server(data)
            except UnknownMessageType as exc:
                log.debug("skipping server message of unknown type %r", exc.kind)
            except ProtocolError as exc:
                raise StreamProtocolError(f"malformed message from the server: {exc}") from None

    async def _recv(self) -> bytes | str | None:
        """The next frame, or None when the session's timer is due. Before the flush there is
        no timer, but :meth:`end` may start one while this waits: it wakes the wait."""
        interval = self._session.timer_interval()
        if interval is not None:
            try:
                async with asyncio.timeout(interval):
                    return await self._connection.recv()
            except TimeoutError:  # recv() is cancellation-safe: nothing was lost
                return None
        self._flush_started.clear()
        receive = asyncio.ensure_future(self._connection.recv())
        flush = asyncio.ensure_future(self._flush_started.wait())
        try:
            await asyncio.wait({receive, flush}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            flush.cancel()
            if not receive.done():
                receive.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await receive
        return receive.result() if not receive.cancelled() else None

    async def _send_data(self) -> None:
        """Send what the session has for the server (call with the send lock held)."""
        for data in self._session.data_to_send():
            try:
                await self._connection.send(data)
            except ConnectionClosed as exc:
                raise closed_error(exc) from None


def _status_error(exc: InvalidStatus, where: str) -> ConnectError:
    status = exc.response.status_code
    if status in (401, 403):
        return Unauthorized(
            f"unauthorized: {where} refused the API key (HTTP {status}); check that the "
            "moshi-server key is in the server's authorized_ids",
            status,
        )
    hint = f" (wrong path? moshi-server streams at {moshi.PATH})" if status == 404 else ""
    return ConnectError(f"{where} answered HTTP {status}{hint}", status)
