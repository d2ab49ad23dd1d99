"""Opening a session on the moshi-server backend: connect (retrying while it starts) and wait
for ``Ready``."""

from __future__ import annotations

import asyncio
import logging
import time

from server.protocol import ErrorCode, ProtocolError, UnknownMessageType, moshi
from server.proxy import picows_channel, websockets_channel
from server.proxy.channel import Channel, ChannelClosed, HandshakeRefused, Transport
from server.proxy.config import ProxyConfig

log = logging.getLogger("kyutai_dictate.proxy")
_BUSY_RETRY = 1.0  # seconds between tries while the backend answers "no free channels"


class BackendFailure(Exception):
    """The backend cannot take this stream; ``code`` is what the client is told."""

    def __init__(self, code: ErrorCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


async def open_session(config: ProxyConfig, deadline: float) -> Channel:
    """A backend connection that has said ``Ready``, by ``deadline`` (time.monotonic()).

    Connection errors are retried with backoff until the deadline (the port of a starting
    backend opens late); a refused key, a busy backend or a bad answer fail at once.
    """
    backend = await _connect(config, deadline)
    try:
        async with asyncio.timeout(max(0.0, deadline - time.monotonic())):
            while True:
                data = await backend.recv()
                if isinstance(data, str):
                    continue  # moshi-server sends msgpack in binary messages only
                try:
                    message = moshi.decode_server(data)
                except UnknownMessageType:
                    continue  # a newer moshi-server's addition
                if isinstance(message, moshi.Ready):
                    return backend
                if isinstance(message, moshi.Error):
                    if moshi.NO_FREE_CHANNELS in message.message:
                        raise BackendFailure(
                            ErrorCode.BUSY, "all backend slots are busy; retry soon"
                        )
                    raise BackendFailure(
                        ErrorCode.BACKEND_UNAVAILABLE, "backend error before ready"
                    )
    except BaseException as exc:
        await backend.close()
        if isinstance(exc, TimeoutError):
            text = f"backend not ready within {config.backend_timeout:g} s"
            raise BackendFailure(ErrorCode.BACKEND_UNAVAILABLE, text) from None
        if isinstance(exc, ProtocolError):
            text = "backend sent an invalid message"
            raise BackendFailure(ErrorCode.BACKEND_UNAVAILABLE, text) from None
        if isinstance(exc, ChannelClosed):
            text = "backend closed before ready"
            raise BackendFailure(ErrorCode.BACKEND_UNAVAILABLE, text) from None
        raise


async def _connect(config: ProxyConfig, deadline: float) -> Channel:
    delay = 0.1
    while True:
        remaining = deadline - time.monotonic()
        try:
            return await connect_backend(config, max(0.1, min(10.0, remaining)))
        except HandshakeRefused as exc:
            if exc.status in (401, 403):
                log.error("backend refused the API key")
                text = "backend refused the proxy's key"
                raise BackendFailure(ErrorCode.BACKEND_UNAVAILABLE, text) from None
            if exc.status:
                reason = f"backend answered HTTP {exc.status}"
            else:  # a starting or restarting server
                reason = f"backend handshake failed ({exc})"
        except ValueError:
            raise BackendFailure(ErrorCode.BACKEND_UNAVAILABLE, "backend URL is invalid") from None
        except (OSError, TimeoutError, EOFError) as exc:
            reason = f"backend not reachable ({type(exc).__name__})"
        if time.monotonic() + delay >= deadline:
            raise BackendFailure(ErrorCode.BACKEND_UNAVAILABLE, reason)
        await asyncio.sleep(delay)
        delay = min(delay * 2, 2.0)


async def connect_backend(config: ProxyConfig, timeout: float) -> Channel:
    """One try at connecting to moshi-server, with the configured transport.

    moshi-server drops a session after 20 s without any frame; pings keep a stream whose
    client is silent (and sends no audio) alive, and find a backend frozen under an active
    stream: one that answers no ping for ``backend_ping_timeout`` (picows waits at most its
    ping interval for the pong, so it pings that often).
    """
    headers = {moshi.API_KEY_HEADER: config.backend_key}
    if config.transport is Transport.PICOWS:
        limits = picows_channel.Limits(max_message_bytes=1 << 20)
        return await picows_channel.connect(
            config.backend_url, headers, timeout, limits, config.backend_ping_timeout
        )
    return await websockets_channel.connect(
        config.backend_url,
        headers,
        timeout,
        ping_interval=min(5.0, config.backend_ping_timeout),
        ping_timeout=config.backend_ping_timeout,
    )


async def wait_until_ready(config: ProxyConfig) -> None:
    """Block until the backend hands out a session (its model is warm), then release it.

    A busy backend is not up: the proxy has no stream yet, so every slot taken means a model
    loop that died (or another client). Raises :class:`BackendFailure` after
    ``startup_timeout``.
    """
    started = time.monotonic()
    deadline = started + config.startup_timeout
    log.info("waiting for the backend to be ready", extra={"backend": config.backend_for_logs})
    while True:
        try:
            session = await open_session(config, deadline)
        except BackendFailure as exc:
            if exc.code is not ErrorCode.BUSY:
                raise
            if time.monotonic() + _BUSY_RETRY >= deadline:
                text = (
                    f"backend had no free slot for {config.startup_timeout:g} s although this "
                    "proxy holds none: its model loop may have stopped (see its log)"
                )
                raise BackendFailure(ErrorCode.BACKEND_UNAVAILABLE, text) from None
            await asyncio.sleep(_BUSY_RETRY)
        else:
            await session.close()
            break
    log.info("backend ready", extra={"wait_s": round(time.monotonic() - started, 3)})
