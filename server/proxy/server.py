"""The proxy's WebSocket server: routing, auth before the upgrade, health, metrics, shutdown."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import time
from dataclasses import dataclass
from http import HTTPStatus
from urllib.parse import urlsplit

from picows import WSUpgradeRequest, WSUpgradeResponse, WSUpgradeResponseWithListener
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.http11 import Request, Response

from server.protocol import ErrorCode, stream
from server.proxy.auth import bearer_token, is_authorized
from server.proxy.backend import wait_until_ready
from server.proxy.channel import Channel, Transport
from server.proxy.config import ProxyConfig
from server.proxy.connection import GuardedConnection, guarded_connection
from server.proxy.health import Health, HealthJudge, Status, fetch_slots
from server.proxy.limits import ConnectionCounter, FailedAuthLimiter
from server.proxy.picows_channel import Limits
from server.proxy.picows_server import HttpAnswer, PicowsServer, StreamChannel
from server.proxy.relay import StreamRelay
from server.proxy.stats import ProxyStats
from server.proxy.websockets_channel import WebsocketsChannel

log = logging.getLogger("kyutai_dictate.proxy")
_ABORT_GRACE = 2.0  # after the shutdown grace: seconds for aborted connections to unwind


class ProxyServer:
    """``async with ProxyServer(config) as proxy:`` serves until :meth:`shutdown`."""

    def __init__(self, config: ProxyConfig) -> None:
        self.config = config
        self.stats = ProxyStats()
        self._relays: set[StreamRelay] = set()
        self._server: Server | None = None
        self._picows: PicowsServer | None = None
        self._next_id = 0
        self._shutting_down = False
        self._judge = HealthJudge(config.stall_timeout)
        self._failed_auth = FailedAuthLimiter(config.max_failed_auth, config.auth_window)
        self._connections = ConnectionCounter(config.max_connections)
        self._watcher: asyncio.Task[None] | None = None
        self.stalled = asyncio.Event()  # set when the backend stalled (with exit_when_stalled)
        # Backend trouble is told to waiting streams only once the backend has been up: before,
        # it may be starting (a cold start), and streams wait for it (backend_timeout).
        self._backend_seen_up = config.wait_backend
        self._trouble: str | None = None
        self._recheck: asyncio.Task[Health] | None = None

    @property
    def port(self) -> int:
        if self._picows is not None:
            return self._picows.port
        assert self._server is not None
        port: int = self._server.sockets[0].getsockname()[1]
        return port

    @property
    def url(self) -> str:
        return f"ws://{self.config.host}:{self.port}{stream.PATH}"

    async def __aenter__(self) -> ProxyServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.shutdown()

    async def start(self) -> None:
        """Listen; with ``wait_backend``, only once the backend is ready (or raise
        :class:`~server.proxy.backend.BackendFailure`)."""
        cfg = self.config
        if cfg.wait_backend:
            await wait_until_ready(cfg)
        if cfg.transport is Transport.PICOWS:
            await self._start_picows()
        else:
            await self._start_websockets()
        log.info("proxy listening", extra={"config": repr(cfg), "port": self.port})
        self._watcher = asyncio.create_task(self._watch_backend())

    async def _start_websockets(self) -> None:
        cfg = self.config
        self._server = await serve(
            self._handle_websockets,
            cfg.host,
            cfg.port,
            process_request=self._route,
            process_response=announce_protocol,
            # Messages up to the limit get a JSON ``too_large`` error from the relay; the
            # WebSocket layer cuts off anything twice as large before reading it into memory.
            max_size=2 * cfg.max_message_bytes,
            ping_interval=cfg.keepalive_interval,
            ping_timeout=cfg.keepalive_interval,
            compression=None,
            create_connection=guarded_connection(cfg.max_client_buffer, self._count_too_large),
            reuse_port=cfg.reuse_port or None,
        )

    async def _start_picows(self) -> None:
        cfg = self.config
        limits = Limits(
            max_message_bytes=2 * cfg.max_message_bytes,  # as websockets' max_size above
            inbox_limit=2 * cfg.max_message_bytes,
            send_timeout=cfg.send_timeout,
        )
        self._picows = PicowsServer(
            async_paths=frozenset({"/healthz", "/metrics"}),
            http=self._http_answer,
            accept=lambda request, peer: self._accept_picows(request, peer, limits),
            on_stream=self._handle,
            limits=limits,
            keepalive=cfg.keepalive_interval,
            on_too_large=self._count_too_large,
        )
        await self._picows.listen(cfg.host, cfg.port, cfg.reuse_port)

    async def shutdown(self) -> None:
        """Stop accepting streams, flush every active one, then close."""
        if self._server is None and self._picows is None:
            return
        self._shutting_down = True
        if self._watcher is not None:
            self._watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watcher
        if self._picows is not None:
            for relay in list(self._relays):
                relay.shutdown()

            def late() -> None:
                log.warning("streams did not finish in time; closing them")

            await self._picows.close(self.config.shutdown_grace, late)
            self._picows = None
            log.info("proxy stopped")
            return
        assert self._server is not None
        self._server.close(close_connections=False)
        for relay in list(self._relays):
            relay.shutdown()
        try:
            async with asyncio.timeout(self.config.shutdown_grace):
                await self._server.wait_closed()
        except TimeoutError:
            log.warning("streams did not finish in time; closing them")
            self._server.close(close_connections=True)
            for relay in list(self._relays):  # whatever their clients do
                relay.abort()
            try:
                async with asyncio.timeout(_ABORT_GRACE):
                    await self._server.wait_closed()
            except TimeoutError:  # only connections still in their handshake are left
                log.warning("connections left open at exit")
        self._server = None
        log.info("proxy stopped")

    async def _route(self, connection: ServerConnection, request: Request) -> Response | None:
        path = urlsplit(request.path).path
        if path == "/healthz":
            return await self._health(connection)
        if path == "/metrics":
            health = await self.check_health()
            return connection.respond(HTTPStatus.OK, self.stats.render() + health.metrics())
        if path != stream.PATH:
            return connection.respond(HTTPStatus.NOT_FOUND, "not found\n")
        return self._admit(connection, request)

    def _admit(self, connection: ServerConnection, request: Request) -> Response | None:
        """The websockets transport's admission: None lets the stream in."""
        if self._server is not None and not self._server.is_serving():
            return connection.respond(HTTPStatus.SERVICE_UNAVAILABLE, "shutting down\n")
        admitted = self._admission(
            _address(connection), request.headers.get_all("Authorization"), _who(connection)
        )
        if isinstance(admitted, Refusal):
            return _json_error(admitted.status, admitted.code, admitted.message, admitted.headers)
        assert isinstance(connection, GuardedConnection)
        connection.when_lost(lambda: self._connections.release(admitted))
        return None

    def _admission(
        self, address: str, authorization: list[str], who: dict[str, str]
    ) -> Refusal | str:
        """Auth and the brakes on abuse (docs/SECURITY.md), for either transport: a refusal,
        or the key the connection counts against (release it when the connection ends)."""
        now = time.monotonic()
        wait = self._failed_auth.retry_after(address, now)
        if wait > 0:  # every request of a locked-out address, so that no guess shows as right
            self.stats.errors[ErrorCode.UNAUTHORIZED] += 1
            return _too_many(ErrorCode.UNAUTHORIZED, "too many failed attempts", wait)
        if len(authorization) > 1:
            log.warning("request with several Authorization headers", extra=who)
            self.stats.errors[ErrorCode.UNAUTHORIZED] += 1
            self._failed_auth.record(address, now)
            text = "more than one Authorization header"
            return Refusal(HTTPStatus.BAD_REQUEST, ErrorCode.BAD_MESSAGE, text)
        header = next(iter(authorization), None)
        if not is_authorized(header, self.config.tokens):
            log.warning("unauthorized request", extra=who)
            self.stats.errors[ErrorCode.UNAUTHORIZED] += 1
            self._failed_auth.record(address, now)
            return Refusal(
                HTTPStatus.UNAUTHORIZED,
                ErrorCode.UNAUTHORIZED,
                "missing or invalid token",
                (("WWW-Authenticate", "Bearer"),),
            )
        # The key is the token itself (kept in memory only) where auth is on; on Modal every
        # client arrives from the same ingress address, so the address alone would be unfair.
        key = (bearer_token(header) or "") if self.config.tokens else address
        if not self._connections.acquire(key):
            log.warning("too many connections", extra=who)
            self.stats.refused_connections += 1
            text = f"more than {self.config.max_connections} connections for this client"
            return _too_many(ErrorCode.BUSY, text, 1.0)
        return key

    async def _health(self, connection: ServerConnection) -> Response:
        health = await self.check_health()
        status = HTTPStatus.OK if health.ok else HTTPStatus.SERVICE_UNAVAILABLE
        body = (json.dumps(health.as_json()) + "\n").encode()
        return Response(status, status.phrase, _json_headers(), body)

    async def check_health(self) -> Health:
        """Whether a new stream would work now (see :mod:`server.proxy.health`)."""
        try:
            slots, error = await fetch_slots(self.config.backend_url), ""
        except (OSError, ValueError) as exc:
            slots, error = None, str(exc) or type(exc).__name__
        health = self._judge.judge(slots, len(self._relays), time.monotonic(), error)
        self._note_health(health)
        return health

    def _note_health(self, health: Health) -> None:
        """Remember whether the backend is in trouble, and tell the streams waiting for it."""
        if health.status in (Status.OK, Status.BUSY):
            self._backend_seen_up, self._trouble = True, None
        elif self._backend_seen_up:
            retry = max(1, round(2 * self.config.health_interval))
            self._trouble = f"the backend is down or not responding; retry in {retry} s"
            for relay in list(self._relays):
                relay.backend_down(self._trouble)

    async def _watch_backend(self) -> None:
        """Check the backend every ``health_interval``; log a stall, and with
        ``exit_when_stalled`` report it (``stalled``) so that the service is restarted."""
        last = Status.OK
        while True:
            await asyncio.sleep(self.config.health_interval)
            try:
                health = await self.check_health()
            except Exception:  # a bug here must not stop the watching, nor the shutdown
                log.exception("backend health check failed")
                continue
            if health.status is not last:
                log.log(
                    logging.ERROR if health.status is Status.STALLED else logging.INFO,
                    "backend health",
                    extra=health.as_json(),
                )
                last = health.status
            if health.status is Status.STALLED and self.config.exit_when_stalled:
                self.stalled.set()

    def _count_too_large(self) -> None:
        self.stats.errors[ErrorCode.TOO_LARGE] += 1

    async def _http_answer(self, path: str) -> HttpAnswer:
        """``/healthz`` and ``/metrics`` (picows transport)."""
        health = await self.check_health()
        if path == "/metrics":
            return HttpAnswer(200, (self.stats.render() + health.metrics()).encode())
        status = 200 if health.ok else 503
        body = (json.dumps(health.as_json()) + "\n").encode()
        return HttpAnswer(status, body, (("Content-Type", "application/json"),))

    def _accept_picows(self, request: WSUpgradeRequest, peer: str, limits: Limits) -> object:
        """Route one picows request: 404, 503, a refusal of :meth:`_admission`, or the
        stream's channel."""
        path = urlsplit(request.path.decode("latin-1")).path
        if path != stream.PATH:
            return HttpAnswer(404, b"not found\n")
        if self._shutting_down:
            return HttpAnswer(503, b"shutting down\n")
        authorization = [str(v) for v in request.headers.getall("Authorization", [])]
        admitted = self._admission(peer or "?", authorization, {"peer": peer or "?"})
        if isinstance(admitted, Refusal):
            body = stream.encode_server(stream.Error(admitted.message, admitted.code)).encode()
            headers = (*admitted.headers, ("Content-Type", "application/json"))
            return HttpAnswer(int(admitted.status), body, headers)
        assert self._picows is not None
        channel = StreamChannel(limits, self._picows)
        channel.on_lost = lambda: self._connections.release(admitted)
        asyncio.get_running_loop().call_soon(channel.lost_unless_upgraded)
        response = WSUpgradeResponse.create_101_response(
            {stream.PROTOCOL_HEADER: stream.PROTOCOL_VERSION}
        )
        return WSUpgradeResponseWithListener(response, channel)

    async def _handle_websockets(self, connection: ServerConnection) -> None:
        await self._handle(WebsocketsChannel(connection))

    async def _handle(self, connection: Channel) -> None:
        self._next_id += 1
        relay = StreamRelay(connection, self.config, self.stats, self._next_id)
        if self._shutting_down:  # accepted just before the listener closed
            relay.shutdown()
        elif self._trouble is not None:  # check again: it may have come back since
            if self._recheck is None or self._recheck.done():  # one check for a crowd
                self._recheck = asyncio.create_task(self.check_health())
            with contextlib.suppress(Exception):  # a failed check leaves the trouble as known
                await asyncio.shield(self._recheck)
            if self._trouble is not None:
                relay.backend_down(self._trouble)
        self._relays.add(relay)
        self.stats.streams_total += 1
        self.stats.streams_active += 1
        try:
            await relay.run()
        finally:
            self._backend_seen_up |= relay.backend_was_ready
            self._relays.discard(relay)
            self.stats.streams_active -= 1


def announce_protocol(connection: ServerConnection, request: Request, response: Response) -> None:
    """Name this proxy's protocol in the 101 response, so clients know ``end`` is understood."""
    if response.status_code == 101:
        response.headers[stream.PROTOCOL_HEADER] = stream.PROTOCOL_VERSION


def _address(connection: ServerConnection) -> str:
    address = connection.remote_address
    return str(address[0]) if address else "?"


@dataclass(frozen=True)
class Refusal:
    """An HTTP answer refusing a stream before the upgrade; its body is the ``error`` message
    a client would get on the stream."""

    status: HTTPStatus
    code: ErrorCode
    message: str
    headers: tuple[tuple[str, str], ...] = ()


def _too_many(code: ErrorCode, message: str, retry_after: float) -> Refusal:
    seconds = max(1, math.ceil(retry_after))
    text = f"{message}; retry in {seconds} s"
    return Refusal(HTTPStatus.TOO_MANY_REQUESTS, code, text, (("Retry-After", str(seconds)),))


def _who(connection: ServerConnection) -> dict[str, str]:
    address = connection.remote_address
    return {"peer": f"{address[0]}:{address[1]}" if address else "?"}


def _json_headers(*extra: tuple[str, str]) -> Headers:
    return Headers([*extra, ("Content-Type", "application/json")])


def _json_error(
    status: HTTPStatus, code: ErrorCode, message: str, headers: tuple[tuple[str, str], ...] = ()
) -> Response:
    """An HTTP refusal whose body is the ``error`` message a client would get on the stream."""
    body = stream.encode_server(stream.Error(message, code)).encode()
    return Response(status, status.phrase, _json_headers(*headers), body)
