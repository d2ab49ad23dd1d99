"""The proxy's WebSocket server: routing, auth before the upgrade, health, metrics, shutdown."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from http import HTTPStatus
from urllib.parse import urlsplit

from picows import WSUpgradeRequest, WSUpgradeResponse, WSUpgradeResponseWithListener
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.http11 import Request, Response

from server.protocol import ErrorCode, stream
from server.proxy.auth import is_authorized
from server.proxy.backend import wait_until_ready
from server.proxy.channel import Channel, Transport
from server.proxy.config import ProxyConfig
from server.proxy.health import Health, HealthJudge, Status, fetch_slots
from server.proxy.picows_channel import Limits
from server.proxy.picows_server import HttpAnswer, PicowsServer, StreamChannel
from server.proxy.relay import StreamRelay
from server.proxy.stats import ProxyStats
from server.proxy.websockets_channel import WebsocketsChannel

log = logging.getLogger("kyutai_dictate.proxy")


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
        self._watcher: asyncio.Task[None] | None = None
        self.stalled = asyncio.Event()  # set when the backend stalled (with exit_when_stalled)

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
            accept=lambda request: self._accept_picows(request, limits),
            on_stream=self._handle,
            limits=limits,
            keepalive=cfg.keepalive_interval,
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
            await self._server.wait_closed()
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
        if not is_authorized(request.headers.get("Authorization"), self.config.tokens):
            log.warning("unauthorized request", extra={"peer": _peer(connection)})
            body = (
                b'{"type": "error", "code": "unauthorized", "message": "missing or invalid token"}'
            )
            headers = Headers(
                [("WWW-Authenticate", "Bearer"), ("Content-Type", "application/json")]
            )
            return Response(401, "Unauthorized", headers, body)
        if self._server is not None and not self._server.is_serving():
            return connection.respond(HTTPStatus.SERVICE_UNAVAILABLE, "shutting down\n")
        return None

    async def _health(self, connection: ServerConnection) -> Response:
        health = await self.check_health()
        status = HTTPStatus.OK if health.ok else HTTPStatus.SERVICE_UNAVAILABLE
        response = connection.respond(status, json.dumps(health.as_json()) + "\n")
        response.headers["Content-Type"] = "application/json"
        return response

    async def check_health(self) -> Health:
        """Whether a new stream would work now (see :mod:`server.proxy.health`)."""
        try:
            slots, error = await fetch_slots(self.config.backend_url), ""
        except (OSError, ValueError) as exc:
            slots, error = None, str(exc) or type(exc).__name__
        return self._judge.judge(slots, len(self._relays), time.monotonic(), error)

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

    async def _http_answer(self, path: str) -> HttpAnswer:
        """``/healthz`` and ``/metrics`` (picows transport)."""
        health = await self.check_health()
        if path == "/metrics":
            return HttpAnswer(200, (self.stats.render() + health.metrics()).encode())
        status = 200 if health.ok else 503
        body = (json.dumps(health.as_json()) + "\n").encode()
        return HttpAnswer(status, body, (("Content-Type", "application/json"),))

    def _accept_picows(self, request: WSUpgradeRequest, limits: Limits) -> object:
        """Route one picows request: 404, 400, 401, 503, or the stream's channel."""
        path = urlsplit(request.path.decode("latin-1")).path
        if path != stream.PATH:
            return HttpAnswer(404, b"not found\n")
        offered = request.headers.getall("Authorization", [])
        if len(offered) > 1:
            log.warning("request with several Authorization headers")
            return HttpAnswer(400, b"several Authorization headers\n")
        if not is_authorized(offered[0] if offered else None, self.config.tokens):
            log.warning("unauthorized request")
            self.stats.errors[ErrorCode.UNAUTHORIZED] += 1
            body = _UNAUTHORIZED
            headers = (("WWW-Authenticate", "Bearer"), ("Content-Type", "application/json"))
            return HttpAnswer(401, body, headers)
        if self._shutting_down:
            return HttpAnswer(503, b"shutting down\n")
        assert self._picows is not None
        channel = StreamChannel(limits, self._picows)
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
        self._relays.add(relay)
        self.stats.streams_total += 1
        self.stats.streams_active += 1
        try:
            await relay.run()
        finally:
            self._relays.discard(relay)
            self.stats.streams_active -= 1


_UNAUTHORIZED = b'{"type": "error", "code": "unauthorized", "message": "missing or invalid token"}'


def announce_protocol(connection: ServerConnection, request: Request, response: Response) -> None:
    """Name this proxy's protocol in the 101 response, so clients know ``end`` is understood."""
    if response.status_code == 101:
        response.headers[stream.PROTOCOL_HEADER] = stream.PROTOCOL_VERSION


def _peer(connection: ServerConnection) -> str:
    address = connection.remote_address
    return f"{address[0]}:{address[1]}" if address else "?"
