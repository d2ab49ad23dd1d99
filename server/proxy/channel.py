"""What the relay needs of a WebSocket connection, whichever library carries it.

:class:`~server.proxy.relay.StreamRelay` and :mod:`server.proxy.backend` speak to a
:class:`Channel`; ``server.proxy.websockets_channel`` and ``server.proxy.picows_channel`` adapt
the two WebSocket libraries the proxy can run on (``--transport``).
"""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from typing import Protocol, runtime_checkable


class Transport(StrEnum):
    """The WebSocket library that carries the proxy's streams (``--transport``)."""

    PICOWS = "picows"  # Cython frame parser: ~3/4 of websockets' CPU a stream (docs/BENCHMARKS.md)
    WEBSOCKETS = "websockets"  # the pure-Python sans-I/O library, kept for comparison


class ChannelClosed(Exception):
    """The connection is closed (by the peer, the network, or a limit): nothing more to do."""


class Channel(Protocol):
    """One WebSocket connection: whole messages in and out, then a close."""

    async def send(self, data: bytes | str) -> None:
        """Send one message (str as text); ChannelClosed when it cannot go out."""

    async def recv(self) -> bytes | str:
        """The next message; ChannelClosed once the connection is closed."""

    async def close(self, code: int = 1000, reason: str = "") -> None:
        """Close with ``code``, waiting a bounded time for the peer's answer."""

    def abort(self) -> None:
        """Cut the connection now, without a close handshake (a peer past its limits)."""


@runtime_checkable
class DirectChannel(Channel, Protocol):
    """A channel that can also hand messages to a callback and send without awaiting: the
    relay's hot path then runs inside the library's frame callback, with no task switch."""

    def set_receiver(self, receiver: Callable[[bytes | str], bool] | None) -> None:
        """Offer each message to ``receiver`` first, while none is queued; it returns False
        to decline (the message then waits for ``recv``, and so do the ones after it)."""

    def can_send_now(self) -> bool:
        """Whether :meth:`send_now` would go out at once (open, and the peer reading)."""

    def send_now(self, data: bytes | str) -> None:
        """Send one message without waiting (only when :meth:`can_send_now`)."""


class HandshakeRefused(Exception):
    """The server answered the upgrade with ``status`` (0: not a valid HTTP answer)."""

    def __init__(self, status: int, detail: str = "") -> None:
        super().__init__(detail or f"HTTP {status}")
        self.status = status
