"""The proxy's listening socket on picows (``--transport picows``).

picows decides about an upgrade in a synchronous callback, but ``/healthz`` and ``/metrics``
ask the backend first (:func:`server.proxy.health.fetch_slots`). So a small front protocol
reads each connection's request head: those two paths it answers itself, asynchronously; any
other request it hands, bytes and all, to picows's own protocol, which routes it through
:meth:`PicowsServer.accept` (401, 404, 503, or the upgrade to ``/v1/stream``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any, cast
from urllib.parse import urlsplit

from picows import (
    WSAutoPingStrategy,
    WSTransport,
    WSUpgradeRequest,
    WSUpgradeResponse,
    WSUpgradeResponseWithListener,
)
from picows.picows import WSProtocol  # type: ignore[attr-defined]  # what ws_create_server makes

from server.protocol import ErrorCode, stream
from server.proxy.picows_channel import Limits, PicowsChannel

HEAD_LIMIT = 16 * 1024  # bytes of request line and headers
HANDSHAKE_TIMEOUT = 10.0  # seconds a connection may take to send its request (as websockets)


@dataclass(frozen=True)
class HttpAnswer:
    """A plain HTTP response: a status, a body and its headers (Content-Type once)."""

    status: int
    body: bytes
    headers: tuple[tuple[str, str], ...] = (("Content-Type", "text/plain; charset=utf-8"),)

    def to_bytes(self) -> bytes:
        phrase = HTTPStatus(self.status).phrase
        lines = [f"HTTP/1.1 {self.status} {phrase}"]
        lines += [f"{name}: {value}" for name, value in self.headers]
        lines += [f"Content-Length: {len(self.body)}", "Connection: close", "", ""]
        return "\r\n".join(lines).encode() + self.body


class _ParserErrors(logging.LoggerAdapter):  # type: ignore[type-arg]
    """The logger of one connection's picows protocol, which also puts the JSON ``too_large``
    error in front of the 1009 close of a frame over ``max_frame_size``.

    picows reports such a frame only through its logger ("WS parser error", with the close
    code first), just before it sends the close frame (picows.pyx, ``_get_next_frame``);
    the ``websockets`` transport does the same in :mod:`server.proxy.connection`.
    """

    def __init__(self, logger: logging.Logger, on_too_large: Callable[[], None]) -> None:
        super().__init__(logger, {})
        self.channel: PicowsChannel | None = None
        self._on_too_large = on_too_large

    def error(self, msg: object, *args: object, **kwargs: Any) -> None:
        reason = args[0] if args and isinstance(args[0], tuple) else ()
        channel = self.channel
        too_large = int(reason[0]) == 1009 if reason else False
        if str(msg).startswith("WS parser error") and too_large and channel is not None:
            error = stream.Error("message over the size limit", ErrorCode.TOO_LARGE)
            with contextlib.suppress(Exception):
                channel.send_now(stream.encode_server(error))
            self._on_too_large()
        super().error(msg, *args, **kwargs)


HttpRoute = Callable[[str], Awaitable[HttpAnswer]]  # path -> answer (for ASYNC_PATHS)
# request -> HttpAnswer, None (404), or what picows's listener factory returns
StreamRoute = Callable[[WSUpgradeRequest, str], object]  # (request, peer address) -> answer


@dataclass
class PicowsServer:
    """Listens on ``host:port``; ``http`` answers ``async_paths``, ``accept`` the rest, and
    ``on_stream`` is started for each upgraded connection."""

    async_paths: frozenset[str]
    http: HttpRoute
    accept: StreamRoute
    on_stream: Callable[[PicowsChannel], Coroutine[Any, Any, None]]
    limits: Limits
    keepalive: float = 20.0  # a WebSocket ping this often; no pong within as long: cut
    on_too_large: Callable[[], None] = lambda: None  # a frame over the limit was cut off
    server: asyncio.Server | None = None
    tasks: set[asyncio.Task[None]] = field(default_factory=set)
    channels: set[PicowsChannel] = field(default_factory=set)

    async def listen(self, host: str, port: int, reuse_port: bool) -> None:
        # picows logs every connection (addresses, buffer sizes) at INFO: the proxy's own log
        # says what matters; picows's warnings and errors still come through.
        logging.getLogger("picows").setLevel(logging.WARNING)
        loop = asyncio.get_running_loop()
        self.server = await loop.create_server(
            lambda: _Front(self), host, port, reuse_port=reuse_port or None
        )

    @property
    def port(self) -> int:
        assert self.server is not None
        port: int = self.server.sockets[0].getsockname()[1]
        return port

    def ws_protocol(self, peer: str = "") -> WSProtocol:
        """The protocol of one connection from ``peer`` (its address, for the limits)."""
        errors = _ParserErrors(logging.getLogger("picows.server"), self.on_too_large)

        def listener(request: WSUpgradeRequest) -> object:
            decision = self._listener_for(request, peer)
            if isinstance(decision, WSUpgradeResponseWithListener):
                errors.channel = cast(PicowsChannel | None, decision.listener)
            return decision

        return WSProtocol(
            None,
            None,
            False,  # server side
            listener,
            errors,
            True,  # disconnect when a callback raises
            HANDSHAKE_TIMEOUT,
            True,  # pings: periodic, so that a client that sends but never reads is found
            self.keepalive,
            self.keepalive,
            WSAutoPingStrategy.PING_PERIODICALLY,
            True,  # answer pings
            self.limits.max_message_bytes,
            None,
            16 * 1024,
        )

    def _listener_for(self, request: WSUpgradeRequest, peer: str) -> object:
        decision = self.accept(request, peer)
        if isinstance(decision, HttpAnswer):
            response = WSUpgradeResponse.create_error_response(
                decision.status, decision.body, list(decision.headers)
            )
            return WSUpgradeResponseWithListener(response, None)
        return decision

    def started(self, channel: PicowsChannel) -> None:
        """A stream's upgrade is done: run its handler."""
        self.channels.add(channel)
        task = asyncio.create_task(self.on_stream(channel))
        self.tasks.add(task)

        def done(finished: asyncio.Task[None]) -> None:
            self.tasks.discard(finished)
            self.channels.discard(channel)
            if not channel.disconnected.is_set():  # the handler is done: so is the connection
                channel.abort()

        task.add_done_callback(done)

    async def close(self, grace: float, on_late: Callable[[], None]) -> None:
        """Stop listening; wait ``grace`` for the streams, then cut the rest (bounded)."""
        if self.server is not None:
            self.server.close()
        if self.tasks and not await _wait_tasks(self.tasks, grace):
            on_late()
            for channel in list(self.channels):
                channel.abort()
            if not await _wait_tasks(self.tasks, self.limits.close_timeout):
                for task in list(self.tasks):
                    task.cancel()
                await _wait_tasks(self.tasks, self.limits.close_timeout)
        if self.server is not None:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.limits.close_timeout):
                    await self.server.wait_closed()
            self.server = None


class StreamChannel(PicowsChannel):
    """A client's ``/v1/stream`` connection: starts its handler once upgraded."""

    def __init__(self, limits: Limits, owner: PicowsServer) -> None:
        super().__init__(limits)
        self._owner = owner
        self.on_lost: Callable[[], None] | None = None  # called once, when it disconnects

    def on_ws_connected(self, transport: WSTransport) -> None:
        super().on_ws_connected(transport)
        self._owner.started(self)

    def on_ws_disconnected(self, transport: WSTransport) -> None:
        super().on_ws_disconnected(transport)
        self.lost()

    def lost(self) -> None:
        """Call ``on_lost``, once."""
        lost, self.on_lost = self.on_lost, None
        if lost is not None:
            lost()

    def lost_unless_upgraded(self) -> None:
        """After picows has answered the request: a request it refused after the listener was
        made (bad upgrade headers: picows.pyx validates them after ``accept``) never connects
        nor disconnects, so its ``on_lost`` is called here. picows calls ``on_ws_connected``
        in the same callback as its 101 answer, so a connected channel has its transport."""
        if self.transport is None:
            self.lost()


async def _wait_tasks(tasks: set[asyncio.Task[None]], timeout: float) -> bool:
    pending = list(tasks)
    if not pending:
        return True
    _, still = await asyncio.wait(pending, timeout=timeout)
    return not still


class _Front(asyncio.Protocol):
    """Reads one request head; answers the async paths, hands anything else to picows."""

    def __init__(self, owner: PicowsServer) -> None:
        self._owner = owner
        self._head = bytearray()
        self._transport: asyncio.Transport | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._task: asyncio.Task[None] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        stream = cast(asyncio.Transport, transport)  # uvloop's is not a subclass
        self._transport = stream
        loop = asyncio.get_running_loop()
        self._timer = loop.call_later(HANDSHAKE_TIMEOUT, stream.abort)

    def data_received(self, data: bytes) -> None:
        transport = self._transport
        if transport is None or self._task is not None:
            return
        self._head += data
        if b"\r\n\r\n" not in self._head:
            if len(self._head) > HEAD_LIMIT:
                self._reply(HttpAnswer(431, b"request head too large\n"))
            return
        line = bytes(self._head.split(b"\r\n", 1)[0])
        parts = line.split(b" ")
        path = urlsplit(parts[1].decode("latin-1")).path if len(parts) == 3 else ""
        if path in self._owner.async_paths and parts[0] == b"GET":
            transport.pause_reading()
            self._task = asyncio.create_task(self._answer(path))
        else:
            self._hand_over(transport)

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_timer()
        if self._task is not None:
            self._task.cancel()
        self._transport = None

    def _hand_over(self, transport: asyncio.Transport) -> None:
        self._stop_timer()
        peername = transport.get_extra_info("peername")
        peer = str(peername[0]) if isinstance(peername, tuple) and peername else ""
        protocol = self._owner.ws_protocol(peer)
        transport.set_protocol(protocol)
        protocol.connection_made(transport)
        data, self._head = bytes(self._head), bytearray()
        view = memoryview(data)
        while view:
            buffer = protocol.get_buffer(len(view))
            size = min(len(buffer), len(view))
            buffer[:size] = view[:size]
            protocol.buffer_updated(size)
            view = view[size:]

    async def _answer(self, path: str) -> None:
        try:
            answer = await self._owner.http(path)
        except Exception:
            logging.getLogger("kyutai_dictate.proxy").exception("HTTP endpoint failed")
            answer = HttpAnswer(500, b"internal error\n")
        self._reply(answer)

    def _reply(self, answer: HttpAnswer) -> None:
        self._stop_timer()
        if self._transport is not None:
            self._transport.write(answer.to_bytes())
            self._transport.close()

    def _stop_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
