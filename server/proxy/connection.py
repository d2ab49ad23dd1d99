"""The websockets transport's bounds on one client connection: what a client may make the proxy
buffer, and a clear ``too_large`` error before the library cuts off an oversized message.

websockets answers every ping with a pong written straight to the socket (``data_received``),
outside any flow control, so a client that floods pings and never reads makes the proxy queue
pongs without end. :class:`GuardedConnection` drops such a client once its unsent bytes pass
``max_buffered``. Past the hard message limit websockets fails the connection with close code
1009 from inside its parser; the guard puts the JSON ``error`` (code ``too_large``) that every
other refusal carries in front of that close frame, and counts it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from websockets.asyncio.server import ServerConnection
from websockets.frames import CloseCode
from websockets.protocol import State
from websockets.server import ServerProtocol

from server.protocol import ErrorCode, stream

log = logging.getLogger("kyutai_dictate.proxy")


class GuardedConnection(ServerConnection):
    """A :class:`ServerConnection` with the bounds above; make one class per server with
    :func:`guarded_connection`."""

    max_buffered: int = 1 << 20
    on_too_large: Callable[[], None] = staticmethod(lambda: None)

    def __init__(self, protocol: ServerProtocol, *args: Any, **kwargs: Any) -> None:
        super().__init__(protocol, *args, **kwargs)
        self._library_fail = protocol.fail
        protocol.fail = self._fail  # type: ignore[method-assign]
        self._on_lost: Callable[[], None] | None = None  # the server's release of its count
        self._lost = False

    def when_lost(self, release: Callable[[], None]) -> None:
        """Call ``release`` once the connection is lost, or now if it already is: websockets
        runs ``process_request`` for a request that came in just before the client hung up
        (websockets/asyncio/server.py, ``handshake``)."""
        if self._lost:
            release()
        else:
            self._on_lost = release

    def connection_lost(self, exc: Exception | None) -> None:
        super().connection_lost(exc)
        self._lost = True
        release, self._on_lost = self._on_lost, None
        if release is not None:
            release()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)  # may write automatic pongs
        if self.transport.get_write_buffer_size() > self.max_buffered:
            log.warning(
                "client not reading; dropped",
                extra={"buffered_bytes": self.transport.get_write_buffer_size()},
            )
            self.abort()

    def abort(self) -> None:
        """Drop the connection at once, discarding what is still unsent."""
        self.transport.abort()

    def _fail(self, code: CloseCode | int, reason: str = "") -> None:
        if code == CloseCode.MESSAGE_TOO_BIG and self.protocol.state is State.OPEN:
            error = stream.Error("message over the size limit", ErrorCode.TOO_LARGE)
            self.protocol.send_text(stream.encode_server(error).encode())
            self.on_too_large()
        self._library_fail(code, reason)


def guarded_connection(
    max_buffered: int, on_too_large: Callable[[], None]
) -> type[GuardedConnection]:
    """A :class:`GuardedConnection` class with these limits, for ``serve(create_connection=)``."""
    return type(
        "BoundGuardedConnection",
        (GuardedConnection,),
        {"max_buffered": max_buffered, "on_too_large": staticmethod(on_too_large)},
    )
