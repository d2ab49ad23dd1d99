"""A :class:`~server.proxy.channel.Channel` over picows, a WebSocket library whose frame parser
and writer are compiled (Cython): the proxy's hot path (``--transport picows``).

picows hands each frame to a callback (:class:`PicowsChannel.on_ws_frame`, see
github.com/tarasko/picows ``picows/picows.pyx``); this module turns those callbacks back into
the awaitable ``recv``/``send``/``close`` the relay uses, and adds the limits a connection must
not exceed, whatever its peer does:

- **What it sends us:** messages wait in a queue until the relay takes them; past
  ``inbox_limit`` bytes the socket is no longer read (TCP pushes back on the peer). A message
  (fragments put together) over ``max_message_bytes`` closes the connection with 1009.
- **What it does not read:** what we write waits in the transport's buffer. Past
  ``write_limit`` bytes the transport asks us to pause: ``send`` then waits, the socket is no
  longer read (so a peer flooding pings makes no more pongs), and a peer that has not read
  the backlog within ``send_timeout`` is disconnected. Nothing waits longer than that.
- **Closing:** ``close`` sends the close frame and waits at most ``close_timeout`` for the
  peer's answer before the connection is cut.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from picows import (
    WSAutoPingStrategy,
    WSCloseCode,
    WSError,
    WSFrame,
    WSInvalidStatusError,
    WSListener,
    WSMsgType,
    WSTransport,
    ws_connect,
)

from server.proxy.channel import ChannelClosed, HandshakeRefused


@dataclass(frozen=True)
class Limits:
    """What one connection may make the proxy hold, and how long anything may wait."""

    max_message_bytes: int = 2 << 20  # larger messages close the connection (1009)
    inbox_limit: int = 2 << 20  # received bytes queued before the socket is no longer read
    write_limit: int = 256 << 10  # bytes the peer has not read before sends wait
    send_timeout: float = 10.0  # a peer that reads nothing this long is disconnected
    close_timeout: float = 2.0  # how long a close waits for the peer's close frame


class PicowsChannel(WSListener):
    """One WebSocket connection (either side) with the limits of :class:`Limits`."""

    def __init__(self, limits: Limits) -> None:
        super().__init__()
        self._limits = limits
        self._loop = asyncio.get_running_loop()
        self.transport: WSTransport | None = None
        self._inbox: deque[bytes | str] = deque()
        self._inbox_bytes = 0
        self._reader: asyncio.Future[None] | None = None
        self._writable: asyncio.Future[None] | None = None  # set while writing is paused
        self._drop_timer: asyncio.TimerHandle | None = None
        self._reading_paused = False
        self._fragments: bytearray | None = None
        self._fragments_text = False
        self.closed = False  # disconnected, or the peer sent its close frame
        self.disconnected = asyncio.Event()
        self._receiver: Callable[[bytes | str], bool] | None = None

    # -- picows callbacks ----------------------------------------------------------------

    def on_ws_connected(self, transport: WSTransport) -> None:
        self.transport = transport
        high = self._limits.write_limit
        transport.underlying_transport.set_write_buffer_limits(high=high, low=high // 4)

    def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
        kind = frame.msg_type
        if kind is WSMsgType.BINARY or kind is WSMsgType.TEXT:
            if self._fragments is not None:
                self._refuse(WSCloseCode.PROTOCOL_ERROR, "expected a continuation frame")
            elif frame.fin:
                self._take(frame.get_payload_as_bytes(), kind is WSMsgType.TEXT)
            else:
                self._fragments = bytearray(frame.get_payload_as_memoryview())
                self._fragments_text = kind is WSMsgType.TEXT
                self._check_size(len(self._fragments))
        elif kind is WSMsgType.CONTINUATION:
            if self._fragments is None:
                self._refuse(WSCloseCode.PROTOCOL_ERROR, "unexpected continuation frame")
                return
            self._fragments += frame.get_payload_as_memoryview()
            if self._check_size(len(self._fragments)) and frame.fin:
                data, self._fragments = bytes(self._fragments), None
                self._take(data, self._fragments_text)
        elif kind is WSMsgType.CLOSE:
            self._mark_closed()
            if not transport.is_close_frame_sent:  # answer with the peer's code
                code = frame.get_close_code() if frame.payload_size else WSCloseCode.NO_INFO
                transport.send_close(code)
            transport.disconnect()

    def on_ws_disconnected(self, transport: WSTransport) -> None:
        self._mark_closed()
        self._cancel_drop_timer()
        if self._writable is not None:
            if not self._writable.done():
                self._writable.set_result(None)
            self._writable = None
        self.disconnected.set()

    def pause_writing(self) -> None:
        if self._writable is None:
            self._writable = self._loop.create_future()
            self._pause_reading()
            self._drop_timer = self._loop.call_later(self._limits.send_timeout, self._drop)

    def resume_writing(self) -> None:
        self._cancel_drop_timer()
        if self._writable is not None:
            if not self._writable.done():
                self._writable.set_result(None)
            self._writable = None
        if self._inbox_bytes < self._limits.inbox_limit:
            self._resume_reading()

    # -- Channel -------------------------------------------------------------------------

    async def recv(self) -> bytes | str:
        while not self._inbox:
            if self.closed:
                raise ChannelClosed
            self._reader = self._loop.create_future()
            try:
                await self._reader
            finally:
                self._reader = None
        data = self._inbox.popleft()
        self._inbox_bytes -= len(data)
        paused = self._reading_paused and self._writable is None
        if paused and self._inbox_bytes < self._limits.inbox_limit // 2:
            self._resume_reading()
        return data

    async def send(self, data: bytes | str) -> None:
        while self._writable is not None and not self.closed:
            await asyncio.shield(self._writable)  # resumed, or dropped after send_timeout
        transport = self.transport
        if self.closed or transport is None or transport.is_close_frame_sent:
            raise ChannelClosed
        if isinstance(data, str):
            transport.send(WSMsgType.TEXT, data.encode())
        else:
            transport.send(WSMsgType.BINARY, data)

    def set_receiver(self, receiver: Callable[[bytes | str], bool] | None) -> None:
        self._receiver = receiver

    def can_send_now(self) -> bool:
        transport = self.transport
        return (
            self._writable is None
            and not self.closed
            and transport is not None
            and not transport.is_close_frame_sent
        )

    def send_now(self, data: bytes | str) -> None:
        assert self.transport is not None
        if isinstance(data, str):
            self.transport.send(WSMsgType.TEXT, data.encode())
        else:
            self.transport.send(WSMsgType.BINARY, data)

    async def close(self, code: int = 1000, reason: str = "") -> None:
        transport = self.transport
        if transport is None or self.disconnected.is_set():
            return
        if not transport.is_close_frame_sent:
            transport.send_close(WSCloseCode(code), reason.encode())
        try:
            async with asyncio.timeout(self._limits.close_timeout):
                await self.disconnected.wait()
        except TimeoutError:
            self.abort()

    def abort(self) -> None:
        """Cut the connection now, without a close handshake."""
        if self.transport is not None:
            self.transport.disconnect(graceful=False)

    # -- helpers -------------------------------------------------------------------------

    def _take(self, data: bytes, text: bool) -> None:
        if text:
            try:
                message: bytes | str = data.decode()
            except UnicodeDecodeError:
                self._refuse(WSCloseCode.INVALID_TEXT, "invalid UTF-8 in a text message")
                return
        else:
            message = data
        receiver = self._receiver
        if receiver is not None and not self._inbox and receiver(message):
            return  # handled in this callback
        self._inbox.append(message)
        self._inbox_bytes += len(data)
        if self._inbox_bytes >= self._limits.inbox_limit:
            self._pause_reading()
        if self._reader is not None and not self._reader.done():
            self._reader.set_result(None)

    def _check_size(self, size: int) -> bool:
        if size > self._limits.max_message_bytes:
            self._fragments = None
            self._refuse(WSCloseCode.MESSAGE_TOO_BIG, "message too big")
            return False
        return True

    def _refuse(self, code: WSCloseCode, reason: str) -> None:
        """Close for a protocol violation: nothing more is read from this peer."""
        self._mark_closed()
        if self.transport is not None:
            if not self.transport.is_close_frame_sent:
                self.transport.send_close(code, reason.encode())
            self._pause_reading()
            self._drop_timer = self._loop.call_later(self._limits.close_timeout, self._drop)

    def _mark_closed(self) -> None:
        self.closed = True
        if self._reader is not None and not self._reader.done():
            self._reader.set_result(None)

    def _drop(self) -> None:
        self._drop_timer = None
        self.abort()

    def _cancel_drop_timer(self) -> None:
        if self._drop_timer is not None:
            self._drop_timer.cancel()
            self._drop_timer = None

    def _pause_reading(self) -> None:
        if not self._reading_paused and self.transport is not None:
            self._reading_paused = True
            with contextlib.suppress(RuntimeError):  # already closing
                self.transport.underlying_transport.pause_reading()

    def _resume_reading(self) -> None:
        if self._reading_paused and self.transport is not None and not self.closed:
            self._reading_paused = False
            with contextlib.suppress(RuntimeError):
                self.transport.underlying_transport.resume_reading()


async def connect(
    url: str, headers: dict[str, str], timeout: float, limits: Limits, ping_interval: float
) -> PicowsChannel:
    """Open a client connection; :class:`HandshakeRefused` for an HTTP answer other than 101,
    OSError or TimeoutError when the server cannot be reached in ``timeout``."""
    attempt = asyncio.ensure_future(
        ws_connect(
            lambda: PicowsChannel(limits),
            url,
            extra_headers=headers,
            websocket_handshake_timeout=timeout,
            enable_auto_ping=True,
            auto_ping_idle_timeout=ping_interval,
            auto_ping_reply_timeout=ping_interval,  # picows: at most the interval
            auto_ping_strategy=WSAutoPingStrategy.PING_PERIODICALLY,
            max_frame_size=limits.max_message_bytes,
        )
    )
    try:
        async with asyncio.timeout(timeout):
            _, channel = await asyncio.shield(attempt)
    except WSInvalidStatusError as exc:
        status = int(exc.response.status) if exc.response is not None else 0
        raise HandshakeRefused(status) from None
    except WSError as exc:
        raise HandshakeRefused(0, str(exc)) from None
    except BaseException:
        # Cancelled or timed out: picows would leave a connection that completes later
        # open (holding a backend slot), so let the attempt end and cut what it made.
        attempt.add_done_callback(_abort_made)
        asyncio.get_running_loop().call_later(timeout, attempt.cancel)
        raise
    assert isinstance(channel, PicowsChannel)
    return channel


def _abort_made(attempt: asyncio.Future[tuple[WSTransport, WSListener]]) -> None:
    if attempt.cancelled() or attempt.exception() is not None:
        return
    _, channel = attempt.result()
    assert isinstance(channel, PicowsChannel)
    channel.abort()
