"""Async client of moshi-server's ``/api/asr-streaming`` (PROTOCOL.md section 2) with the
interface of :class:`app.backend.stream_client.StreamClient`: the app talks to a moshi-server
directly.

::

    async with MoshiStreamClient.connect(endpoint) as stream:  # kyutai-api-key in the headers
        await stream.send_audio(frame)  # float32 samples at 24 kHz
        await stream.end()
        async for message in stream.messages():  # Ready, Token, VadEnd, then End
            ...

It follows the proxy's rules (PROTOCOL.md section 3, :mod:`server.protocol.backend_rules`):
audio is held until ``Ready`` and re-framed into 1920-sample ``Audio`` messages; ``Word``
becomes ``Token``; pause probabilities become ``VadEnd``; :meth:`end` flushes (padding, silence
to cover the model delay, a ``Marker``, then silence without real-time pacing until it comes
back) and the echoed marker becomes ``End``, so the last word is not lost. The flush's silence
after the marker is sent from :meth:`messages` as the ``Step``s come, so keep reading. Failures
raise :mod:`app.backend.stream_client`'s exceptions: ``Error`` becomes :class:`StreamError`
with code ``busy`` (no free slot) or ``backend_unavailable``.
"""

from __future__ import annotations

import asyncio
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
from server.protocol.audio import FRAME_SECONDS, Reframer, Samples, sanitize
from server.protocol.backend_rules import (
    SILENT_FRAME,
    backlog_seconds,
    error_code,
    flush_audio,
    flush_silence_frames,
    flush_stalled,
    silence_prefix,
    to_token,
)
from server.protocol.vad import VadTracker

log = logging.getLogger(__name__)
_wire_log = wire_logger(__name__)
_marker_ids = itertools.count(1)


class MoshiStreamClient:
    """One moshi-server session on an open WebSocket connection. Use :meth:`connect`."""

    legacy = False  # not the original service's proxy

    def __init__(self, connection: ClientConnection, model: ModelProfile = STT_1B) -> None:
        self._connection = connection
        self._model = model
        self._stats = SendStats()
        self._send_lock = asyncio.Lock()  # keeps frames, flush silence and marker in order
        self._reframer = Reframer()
        # Frames held until Ready, starting with the model's silence prefix.
        self._pending: list[Samples] = self._reframer.push(silence_prefix(model))
        self._ready_at: float | None = None
        self._ended = False
        self._vad = VadTracker()
        self._frames_sent = 0
        self._last_heard = time.monotonic()
        self._marker: int | None = None  # the flush marker, once sent
        self._expected_end = 0.0  # when the marker should be back
        self._silence_sent = 0  # silent frames sent after the marker

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
        if self._ended:
            raise RuntimeError("send_audio() after end()")
        pcm = np.asarray(samples, dtype=np.float32)
        if pcm.ndim != 1:
            raise ValueError(f"expected mono samples (1-D), got shape {pcm.shape}")
        if not len(pcm):
            return
        async with self._send_lock:
            frames = self._reframer.push(sanitize(pcm))
            if self._ready_at is None:
                self._pending.extend(frames)
            else:
                await self._send_frames(frames)
        self._stats.record_audio(len(pcm))

    async def end(self) -> None:
        """Say there is no more audio: flush now, or at ``Ready`` if it has not come. Idempotent."""
        if self._ended:
            return
        self._ended = True
        async with self._send_lock:
            if self._ready_at is not None:
                await self._start_flush()
        self._stats.end_sent_at = time.monotonic()

    async def messages(self) -> AsyncIterator[stream.ServerMessage]:
        """Yield ``/v1/stream`` messages; the last one is :class:`~server.protocol.stream.End`.

        Raises :class:`StreamError` on a server ``Error`` or a flush the server never finishes,
        :class:`StreamClosed` when the connection ends first, :class:`StreamProtocolError` on a
        malformed message. Call it from one task only.
        """
        while True:
            match await self._receive():
                case moshi.Ready():
                    await self._on_ready()
                    yield stream.Ready()
                case moshi.Word() as word:
                    self._vad.on_word()
                    yield to_token(word, self._model)
                case moshi.Step(prs=prs):
                    if self._vad.on_step(prs):
                        yield stream.VadEnd()
                case moshi.Marker(id=marker_id) if marker_id == self._marker:
                    yield stream.End()
                    return
                case moshi.Error(message=text) as error:
                    raise StreamError(text, error_code(error))
                case _:
                    pass  # EndWord, a stray Marker

    async def _receive(self) -> moshi.ServerMessage:
        """The next server message; while a flush waits, send the silence that is due."""
        while True:
            timeout = None
            if self._marker is not None:
                async with self._send_lock:
                    await self._send_flush_silence()
                timeout = FRAME_SECONDS
            try:
                async with asyncio.timeout(timeout):
                    data = await self._connection.recv()
            except TimeoutError:  # recv() is cancellation-safe: nothing was lost
                await self._send_paced_silence()
                continue
            except ConnectionClosed as exc:
                raise closed_error(exc) from None
            self._last_heard = time.monotonic()
            if isinstance(data, str):
                continue  # moshi-server defines no text frames
            try:
                return moshi.decode_server(data)
            except UnknownMessageType as exc:
                log.debug("skipping server message of unknown type %r", exc.kind)
            except ProtocolError as exc:
                raise StreamProtocolError(f"malformed message from the server: {exc}") from None

    async def _on_ready(self) -> None:
        async with self._send_lock:
            self._ready_at = time.monotonic()
            pending, self._pending = self._pending, []
            await self._send_frames(pending)
            if self._ended:
                await self._start_flush()

    async def _start_flush(self) -> None:
        """Pad, silence to cover the model delay, marker (call with the send lock held)."""
        assert self._ready_at is not None
        if self._marker is not None:
            return
        await self._send_frames(flush_audio(self._reframer, self._model))
        self._marker = next(_marker_ids)
        await self._send(moshi.encode(moshi.Marker(self._marker)))
        now = time.monotonic()
        backlog = backlog_seconds(
            self._model, self._frames_sent, self._vad.steps, now - self._ready_at
        )
        self._expected_end = now + backlog + self._model.delay_seconds
        await self._send_flush_silence()  # without Steps (2.6B) all of it goes now

    async def _send_flush_silence(self) -> None:
        """The silence :func:`flush_silence_frames` allows now (call with the send lock held)."""
        backlog = self._frames_sent - self._vad.steps
        count = flush_silence_frames(self._model, self._silence_sent, backlog)
        for _ in range(count):
            await self._send(SILENT_FRAME)
        self._frames_sent += count
        self._silence_sent += count

    async def _send_paced_silence(self) -> None:
        """Nothing heard for a frame time during a flush: once it is overdue, one frame, as
        real-time pacing would (a fallback)."""
        now = time.monotonic()
        if flush_stalled(now, self._expected_end, self._last_heard):
            raise StreamError("the server did not finish the stream", ErrorCode.BACKEND_UNAVAILABLE)
        if now <= self._expected_end:
            return
        async with self._send_lock:
            await self._send(SILENT_FRAME)
            self._frames_sent += 1
            self._silence_sent += 1

    async def _send_frames(self, frames: list[Samples]) -> None:
        for frame in frames:
            await self._send(moshi.encode_audio(frame))
            self._frames_sent += 1

    async def _send(self, data: bytes) -> None:
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
