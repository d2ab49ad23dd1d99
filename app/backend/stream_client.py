"""Async client of the ``/v1/stream`` protocol (PROTOCOL.md section 1) over websockets.

::

    async with StreamClient.connect(endpoint) as stream:
        await stream.send_audio(frame)  # float32 samples at 24 kHz
        await stream.end()
        async for message in stream.messages():  # Ready, Token, VadEnd, Ping, then End
            ...

Failures surface as :class:`StreamClientError` subclasses: :class:`ConnectError` (and
:class:`Unauthorized`) while connecting, :class:`StreamError` when the server sends ``error``,
:class:`StreamClosed` when the stream ends before both sides said ``end``,
:class:`StreamProtocolError` for a malformed server message. Unknown server message types are
skipped.
"""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import (
    ConnectionClosed,
    InvalidHeaderValue,
    InvalidStatus,
    WebSocketException,
)

from app.core.endpoint import Endpoint, redact_url
from app.core.errors import AppError
from server.protocol.errors import ErrorCode, ProtocolError, UnknownMessageType
from server.protocol.stream import (
    AudioChunk,
    End,
    EndOfAudio,
    Error,
    ServerMessage,
    decode_server,
    encode_client,
)

log = logging.getLogger(__name__)

SECRET_HEADERS = frozenset({"authorization", "modal-key", "modal-secret", "kyutai-api-key"})


class RedactSecrets(logging.Filter):
    """Hide header values and URL query values in websockets' handshake debug lines."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if record.msg in ("> %s: %s", "< %s: %s") and isinstance(args, tuple) and len(args) == 2:
            name = str(args[0])
            if name.lower() in SECRET_HEADERS:
                record.args = (name, "***")
        elif record.msg == "> GET %s HTTP/1.1" and isinstance(args, tuple) and len(args) == 1:
            record.args = (redact_url(str(args[0])),)
        return True


def wire_logger(module: str) -> logging.Logger:
    """A logger for websockets' debug lines (the handshake, headers included), redacted."""
    logger = logging.getLogger(f"{module}.wire")
    logger.addFilter(RedactSecrets())
    return logger


_wire_log = wire_logger(__name__)


class StreamClientError(AppError):
    """Base class of every failure this client reports."""


class ConnectError(StreamClientError):
    """The connection or the opening handshake failed; ``status`` is the HTTP answer, if any."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class Unauthorized(ConnectError):
    """The server refused the credentials (HTTP 401 or 403 before the upgrade); ``advice``
    says what to do about it in the app's terms (from the endpoint), if known."""

    advice: str = ""


class StreamError(StreamClientError):
    """The server sent ``error``; ``code`` is its machine-readable code, if any."""

    def __init__(self, message: str, code: ErrorCode | None) -> None:
        super().__init__(f"{code.value}: {message}" if code else message)
        self.message = message
        self.code = code


class StreamClosed(StreamClientError):
    """The connection ended before the server sent ``end``."""

    def __init__(self, close_code: int | None, reason: str = "", text: str | None = None) -> None:
        if text is None and close_code is None:
            text = "the connection to the server was lost"
        elif text is None:
            detail = f"{close_code} {reason}".strip()
            text = f"the server closed the connection before the stream ended ({detail})"
        super().__init__(text)
        self.close_code = close_code
        self.reason = reason


class StreamEndedEarly(StreamClosed):
    """The server sent ``end`` although this client had not ended its audio."""

    def __init__(self) -> None:
        super().__init__(None, text="the server ended the stream before the audio ended")


class StreamProtocolError(StreamClientError):
    """The server sent a message that breaks the protocol."""


@dataclass(slots=True)
class SendStats:
    """What this client has sent, with ``time.monotonic()`` timestamps (None: not yet)."""

    audio_messages: int = 0
    samples: int = 0
    first_audio_at: float | None = None
    last_audio_at: float | None = None
    end_sent_at: float | None = None

    def record_audio(self, samples: int) -> None:
        """One audio message of ``samples`` samples went out now."""
        now = time.monotonic()
        self.audio_messages += 1
        self.samples += samples
        if self.first_audio_at is None:
            self.first_audio_at = now
        self.last_audio_at = now


class StreamClient:
    """One ``/v1/stream`` session on an open WebSocket connection. Use :meth:`connect`."""

    legacy = False  # not the original service (app.backend.original_client)

    def __init__(self, connection: ClientConnection) -> None:
        self._connection = connection
        self._stats = SendStats()
        self._ended = False

    @classmethod
    @asynccontextmanager
    async def connect(
        cls,
        endpoint: Endpoint,
        *,
        open_timeout: float | None = 10.0,
        close_timeout: float | None = 5.0,
    ) -> AsyncIterator[StreamClient]:
        """Open a stream to this project's proxy at ``endpoint``; the connection closes when
        the block exits. (:func:`app.backend.connect.open_v1_stream` also recognises the
        original service.) Raises :class:`ConnectError` (:class:`Unauthorized` for HTTP
        401/403).
        """
        connection = await open_v1_connection(endpoint, open_timeout, close_timeout)
        try:
            yield cls(connection)
        finally:
            await connection.close()

    @property
    def stats(self) -> SendStats:
        """Counters and timestamps of what was sent so far."""
        return self._stats

    async def send_audio(self, samples: npt.NDArray[np.float32]) -> None:
        """Send mono 24 kHz samples as one float32 little-endian binary message.

        Raises :class:`StreamClosed` if the connection is gone.
        """
        if self._ended:
            raise RuntimeError("send_audio() after end()")
        pcm = np.ascontiguousarray(samples, dtype="<f4")
        if pcm.ndim != 1:
            raise ValueError(f"expected mono samples (1-D), got shape {pcm.shape}")
        if not len(pcm):
            return
        await self._send(encode_client(AudioChunk(pcm.tobytes())))
        self._stats.record_audio(len(pcm))

    async def end(self) -> None:
        """Say there is no more audio; the server flushes and answers ``end``. Idempotent."""
        if self._ended:
            return
        self._ended = True
        await self._send(encode_client(EndOfAudio()))
        self._stats.end_sent_at = time.monotonic()

    async def messages(self) -> AsyncIterator[ServerMessage]:
        """Yield server messages; the last one is :class:`End`, after which iteration stops.

        Raises :class:`StreamError` on ``error``, :class:`StreamClosed` when the connection ends
        first (:class:`StreamEndedEarly` when ``end`` comes before :meth:`end` was called),
        :class:`StreamProtocolError` on a malformed message. Call it from one task only.
        """
        while True:
            try:
                data = await self._connection.recv()
            except ConnectionClosed as exc:
                raise closed_error(exc) from None
            message = decode_message(data)
            if message is None:
                continue
            if isinstance(message, Error):
                raise StreamError(message.message, message.code)
            if isinstance(message, End) and not self._ended:
                raise StreamEndedEarly
            yield message
            if isinstance(message, End):
                return

    async def _send(self, data: bytes | str) -> None:
        try:
            await self._connection.send(data)
        except ConnectionClosed as exc:
            raise closed_error(exc) from None


async def open_websocket(
    endpoint: Endpoint,
    *,
    open_timeout: float | None,
    close_timeout: float | None,
    status_error: Callable[[InvalidStatus, str], ConnectError],
    server: str,
    **options: Any,
) -> ClientConnection:
    """Open a WebSocket to ``endpoint`` (with its headers; uncompressed, redacted debug log).

    Every failure becomes a :class:`ConnectError` whose message says what to check;
    ``status_error`` words an HTTP answer, ``server`` names what should be listening.
    """
    where = redact_url(endpoint.url)
    try:
        return await connect(
            endpoint.url,
            additional_headers=list(endpoint.headers),
            open_timeout=open_timeout,
            close_timeout=close_timeout,
            compression=None,  # PCM does not compress; deflate would only cost CPU
            logger=options.pop("logger", _wire_log),
            **options,
        )
    except InvalidStatus as exc:
        error = status_error(exc, where)
        if isinstance(error, Unauthorized):
            error.advice = endpoint.refused_advice
        raise error from None
    except TimeoutError:
        raise ConnectError(f"timed out after {open_timeout} s connecting to {where}") from None
    except ConnectionRefusedError:
        raise ConnectError(
            f"connection refused by {where}: is {server} running and the port right?"
        ) from None
    except socket.gaierror as exc:
        raise ConnectError(f"cannot resolve the host of {where}: {exc.strerror}") from None
    except OSError as exc:
        raise ConnectError(f"cannot connect to {where}: {exc}") from None
    except InvalidHeaderValue as exc:  # its text quotes the value, which may be a secret
        raise ConnectError(f"cannot connect to {where}: the {exc.name} header is invalid") from None
    except WebSocketException as exc:
        raise ConnectError(f"WebSocket handshake with {where} failed: {exc}") from None


async def open_v1_connection(
    endpoint: Endpoint, open_timeout: float | None, close_timeout: float | None
) -> ClientConnection:
    """The WebSocket of a ``/v1/stream`` at ``endpoint`` (see :func:`open_websocket`)."""
    return await open_websocket(
        endpoint,
        open_timeout=open_timeout,
        close_timeout=close_timeout,
        status_error=_status_error,
        server="the server",
    )


def closed_error(exc: ConnectionClosed) -> StreamClosed:
    """The :class:`StreamClosed` for a connection that ended (with or without a close frame)."""
    received = exc.rcvd  # the server's close frame, None if the connection just dropped
    return (
        StreamClosed(None, "") if received is None else StreamClosed(received.code, received.reason)
    )


def decode_message(data: bytes | str) -> ServerMessage | None:
    """Decode one server message; None for a well-formed message of an unknown type."""
    try:
        return decode_server(data)
    except UnknownMessageType as exc:
        log.debug("skipping server message of unknown type %r", exc.kind)
        return None
    except ProtocolError as exc:
        raise StreamProtocolError(f"malformed message from the server: {exc}") from None


def _status_error(exc: InvalidStatus, where: str) -> ConnectError:
    status = exc.response.status_code
    body = (exc.response.body or b"").decode("utf-8", "replace").strip().splitlines()
    detail = f": {body[0][:200]}" if body else ""
    if status in (401, 403):
        return Unauthorized(
            f"unauthorized: {where} refused the credentials (HTTP {status}{detail}); "
            "check --token / KYUTAI_DICTATE_TOKEN, or MODAL_KEY / MODAL_SECRET",
            status,
        )
    hint = " (wrong path? the stream is at /v1/stream)" if status == 404 else ""
    return ConnectError(f"{where} answered HTTP {status}{detail}{hint}", status)
