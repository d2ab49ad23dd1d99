"""A :class:`~server.proxy.channel.Channel` over a connection of the ``websockets`` library."""

from __future__ import annotations

from websockets.asyncio.client import connect as websockets_connect
from websockets.asyncio.connection import Connection
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus, InvalidURI

from server.proxy.channel import ChannelClosed, HandshakeRefused


class WebsocketsChannel:
    """Adapts a ``websockets`` connection (server or client side)."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    async def send(self, data: bytes | str) -> None:
        try:
            await self.connection.send(data)
        except ConnectionClosed:
            raise ChannelClosed from None

    async def recv(self) -> bytes | str:
        try:
            return await self.connection.recv()
        except ConnectionClosed:
            raise ChannelClosed from None

    async def close(self, code: int = 1000, reason: str = "") -> None:
        await self.connection.close(code, reason)

    def abort(self) -> None:
        """Cut the connection now, without a close handshake."""
        self.connection.transport.abort()


async def connect(
    url: str,
    headers: dict[str, str],
    timeout: float,
    ping_interval: float,
    ping_timeout: float = 20.0,
) -> WebsocketsChannel:
    """Open a client connection; :class:`HandshakeRefused` for an HTTP answer other than 101,
    OSError or TimeoutError when the server cannot be reached in ``timeout``."""
    try:
        connection = await websockets_connect(
            url,
            additional_headers=headers,
            open_timeout=timeout,
            close_timeout=1,
            max_size=1 << 20,
            ping_interval=ping_interval,
            ping_timeout=ping_timeout,
            compression=None,
        )
    except InvalidStatus as exc:
        raise HandshakeRefused(exc.response.status_code) from None
    except InvalidURI as exc:
        raise ValueError(str(exc)) from None
    except (InvalidHandshake, EOFError) as exc:  # a starting or restarting server
        raise HandshakeRefused(0, type(exc).__name__) from None
    return WebsocketsChannel(connection)
