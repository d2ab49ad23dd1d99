"""One client stream relayed to one backend session: the I/O around
:class:`~server.protocol.moshi_session.MoshiSession`, which holds the rules (PROTOCOL.md
section 3).

Life of a stream: connect to the backend while buffering the client's audio; on the backend's
``Ready`` send ``ready`` and the buffered audio; then relay audio up and words down until the
client sends ``end``, goes idle, vanishes, or the proxy shuts down; flush so that every word of
the audio arrives; answer and close. The client reader forwards audio itself (the hot path);
every other decision is taken in :meth:`StreamRelay.run`.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum

from server.protocol import ErrorCode, ProtocolError, UnknownMessageType, moshi, stream
from server.protocol.audio import SAMPLE_RATE, pcm_from_bytes
from server.protocol.moshi_session import MoshiSession
from server.proxy.backend import BackendFailure, open_session
from server.proxy.channel import Channel, ChannelClosed, DirectChannel
from server.proxy.config import ProxyConfig
from server.proxy.limits import AudioBudget
from server.proxy.stats import ProxyStats

log = logging.getLogger("kyutai_dictate.proxy")

_BACKLOG_WARNING_SAMPLES = SAMPLE_RATE  # one second queued on the GPU side
_FORWARDED = (stream.Token, stream.VadEnd, stream.Ready)  # events sent on to the client
_marker_ids = itertools.count(1)


class Outcome(Enum):
    """Why a stream ended."""

    END = "end"  # the client sent end
    IDLE = "idle_timeout"
    SHUTDOWN = "shutdown"
    CLIENT_GONE = "client_gone"
    FAILED = "failed"


@dataclass(frozen=True)
class Failure:
    code: ErrorCode
    message: str


class StreamRelay:
    """Relays one ``/v1/stream`` client to one moshi-server session."""

    def __init__(
        self, client: Channel, config: ProxyConfig, stats: ProxyStats, stream_id: int
    ) -> None:
        self._client = client
        self._config = config
        self._stats = stats
        self._id = stream_id
        self._backend: Channel | None = None
        self._session = MoshiSession(config.model, next(_marker_ids))
        self._send_lock = asyncio.Lock()  # one sender at a time keeps the session's order
        self._accepting_audio = True
        # Facts the readers report; run() waits on _changed and reads them.
        self._changed = asyncio.Event()
        self._end_requested = False
        self._client_gone = False
        self._shutting_down = False
        self._failure: Failure | None = None
        self._last_audio = time.monotonic()
        self._last_sent = time.monotonic()
        self._tokens_down = 0
        self._max_backlog = 0
        self._budget = AudioBudget(
            config.max_audio_speed, config.audio_burst_seconds, time.monotonic()
        )
        self._throttled = False
        self._slow_until = 0.0  # the direct path over budget: audio waits for the reader
        # The readers' tasks hold these while they handle a message: the direct path (below)
        # must not overtake them.
        self._client_busy = False
        self._backend_busy = False
        # The channels again where they support the direct path (checked once: isinstance
        # with a Protocol is slow), else None.
        self._direct_client = client if isinstance(client, DirectChannel) else None
        self._direct_backend: DirectChannel | None = None

    def shutdown(self) -> None:
        """Ask the stream to flush and close (proxy shutting down)."""
        self._shutting_down = True
        self._changed.set()

    def backend_down(self, message: str) -> None:
        """The health checks found the backend down or frozen: a stream still waiting for its
        ``Ready`` is told so now (``backend_unavailable``), not at the backend timeout."""
        if self._backend is None:
            self._fail(ErrorCode.BACKEND_UNAVAILABLE, message)

    @property
    def backend_was_ready(self) -> bool:
        return self._backend is not None

    def abort(self) -> None:
        """Drop the client at once (shutdown past its grace): pending sends end."""
        self._drop_client()

    def _drop_client(self) -> None:
        self._client_gone = True
        self._changed.set()
        self._client.abort()

    async def run(self) -> None:
        started = time.monotonic()
        log.info("stream open", extra={"stream": self._id})
        helpers = [
            asyncio.create_task(self._read_client()),
            asyncio.create_task(self._keepalive()),  # pings while the backend starts, too
        ]
        outcome = Outcome.FAILED
        try:
            if await self._open_backend():
                helpers.append(asyncio.create_task(self._read_backend()))
                outcome = await self._stream()
            elif self._client_gone:
                outcome = Outcome.CLIENT_GONE
            elif self._failure is None:  # shut down before the backend was ready
                self._fail(ErrorCode.BACKEND_UNAVAILABLE, "the server is restarting; stream again")
            await _cancel(helpers)  # nothing may follow the final message
            await self._close_backend()
            await self._finish(outcome)
        except Exception:
            log.exception("stream crashed", extra={"stream": self._id})
            self._fail(ErrorCode.INTERNAL, "internal proxy error")
            await _cancel(helpers)
            await self._finish(Outcome.FAILED)
        finally:
            await _cancel(helpers)
            await self._close_backend()
            log.info(
                "stream closed",
                extra={
                    "stream": self._id,
                    "outcome": outcome.value,
                    "error": self._failure.code.value if self._failure else None,
                    "seconds": round(time.monotonic() - started, 3),
                    "frames": self._session.frames_sent,
                    "tokens": self._tokens_down,
                    "max_backlog_samples": self._max_backlog,
                },
            )

    # -- phases --------------------------------------------------------------------------

    async def _open_backend(self) -> bool:
        """Connect and wait for ``Ready``; False if the stream cannot go on."""
        deadline = time.monotonic() + self._config.backend_timeout
        connecting = asyncio.create_task(open_session(self._config, deadline))
        waiter = asyncio.create_task(self._wait(lambda: self._interrupted, None))
        await asyncio.wait({connecting, waiter}, return_when=asyncio.FIRST_COMPLETED)
        waiter.cancel()
        if not connecting.done():
            connecting.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await connecting
            return False
        try:
            self._backend = connecting.result()
        except BackendFailure as exc:
            self._fail(exc.code, exc.message)
            return False
        waited = self._config.backend_timeout - (deadline - time.monotonic())
        log.info("backend ready", extra={"stream": self._id, "wait_s": round(waited, 3)})
        now = time.monotonic()
        self._last_audio = max(self._last_audio, now)  # idle counts from Ready
        async with self._send_lock:  # the Ready open_session read: buffered audio goes now
            self._session.receive(moshi.Ready(), now)
            await self._send_backend_data()
        await self._forward_events()
        return True

    async def _stream(self) -> Outcome:
        """Relay until something ends the stream; flush unless it cannot be flushed."""
        idle = self._config.idle_timeout
        while True:
            if self._client_gone:
                return Outcome.CLIENT_GONE
            if self._failure is not None:
                return Outcome.FAILED
            if self._end_requested:
                outcome = Outcome.END
                break
            if self._shutting_down:
                outcome = Outcome.SHUTDOWN
                break
            remaining = self._last_audio + idle - time.monotonic()
            if remaining <= 0:
                outcome = Outcome.IDLE
                break
            await self._wait(lambda: self._interrupted or self._end_requested, remaining)
        self._accepting_audio = False
        await self._flush()
        return outcome if self._failure is None else Outcome.FAILED

    async def _flush(self) -> None:
        """Drain the backend (the session's flush), until its ``End`` or a failure."""
        async with self._send_lock:
            self._session.end(time.monotonic())
            await self._send_backend_data()
        await self._forward_events()

        def done() -> bool:
            return self._session.done or self._failure is not None or self._client_gone

        while not done():
            interval = self._session.timer_interval()
            if not await self._wait(done, interval):
                async with self._send_lock:
                    self._session.timer(time.monotonic())
                    await self._send_backend_data()
                await self._forward_events()

    async def _finish(self, outcome: Outcome) -> None:
        """Tell the client how the stream ended and close it."""
        if outcome is Outcome.CLIENT_GONE:
            return
        if self._failure is not None:
            self._stats.errors[self._failure.code] += 1
            await self._send_client(stream.Error(self._failure.message, self._failure.code))
            await self._close_client(self._failure.code.close_code, self._failure.code.value)
        elif outcome is Outcome.IDLE:
            code = ErrorCode.IDLE_TIMEOUT
            self._stats.errors[code] += 1
            text = f"no audio for {self._config.idle_timeout:g} s"
            await self._send_client(stream.Error(text, code))
            await self._close_client(code.close_code, code.value)
        else:
            await self._send_client(stream.End())
            await self._close_client(1001 if outcome is Outcome.SHUTDOWN else 1000)

    async def _close_client(self, code: int, reason: str = "") -> None:
        """Close the client's connection; one that does not answer within the send timeout is
        dropped."""
        if self._client_gone:
            return
        try:
            async with asyncio.timeout(self._config.send_timeout):
                await self._client.close(code, reason)
        except TimeoutError:
            self._drop_client()

    # -- readers -------------------------------------------------------------------------

    async def _read_client(self) -> None:
        recv = self._client.recv
        if self._direct_client is not None:
            self._direct_client.set_receiver(self._client_now)
        try:
            while True:
                self._client_busy = False
                data = await recv()
                self._client_busy = True
                if len(data) > self._config.max_message_bytes:
                    limit = self._config.max_message_bytes
                    self._fail(ErrorCode.TOO_LARGE, f"message over {limit} bytes")
                    return
                try:
                    message = stream.decode_client(data)
                except ProtocolError as exc:
                    self._fail(exc.code, str(exc))
                    return
                if isinstance(message, stream.EndOfAudio):
                    self._end_requested = True
                    self._changed.set()
                elif self._accepting_audio and not self._end_requested and message.pcm:
                    await self._throttle(len(message.pcm) / 4 / SAMPLE_RATE)
                    self._last_audio = time.monotonic()  # empty messages keep nothing alive
                    await self._take_audio(message.pcm)
        except ChannelClosed:
            pass
        finally:
            if self._direct_client is not None:
                self._direct_client.set_receiver(None)
        self._client_gone = True
        self._changed.set()

    async def _throttle(self, seconds: float) -> None:
        """Slow a client that sends audio far faster than real time: while this reader waits,
        the client's messages queue up and TCP pushes back on it."""
        now = time.monotonic()
        wait = max(self._budget.take(seconds, now), self._slow_until - now)
        if wait > 0:
            self._note_throttled()
            await asyncio.sleep(wait)

    def _note_throttled(self) -> None:
        if not self._throttled:
            self._throttled = True
            self._stats.throttled_streams += 1
            log.warning(
                "client sends audio too fast; slowed",
                extra={"stream": self._id, "max_speed": self._config.max_audio_speed},
            )

    async def _take_audio(self, pcm: bytes) -> None:
        async with self._send_lock:
            self._session.audio(pcm_from_bytes(pcm))
            if self._session.ready:
                await self._send_backend_data()
                if not self._session.model.has_vad:  # no Steps to note it on (stt-2.6b-en)
                    self._note_backlog(time.monotonic())
            elif self._session.pending_seconds > self._config.max_buffered_seconds:
                self._fail(ErrorCode.TOO_LARGE, "too much audio sent before the backend was ready")

    async def _read_backend(self) -> None:
        assert self._backend is not None
        recv = self._backend.recv
        if isinstance(self._backend, DirectChannel):
            self._direct_backend = self._backend
            self._direct_backend.set_receiver(self._backend_now)
        try:
            while True:
                self._backend_busy = False
                data = await recv()
                self._backend_busy = True
                if isinstance(data, str):
                    continue
                try:
                    message = moshi.decode_server(data)
                except UnknownMessageType:
                    continue  # a newer moshi-server's addition
                now = time.monotonic()
                async with self._send_lock:
                    self._session.receive(message, now)
                    await self._send_backend_data()  # a flush sends more silence per Step
                if isinstance(message, moshi.Step):
                    self._note_backlog(now)
                await self._forward_events()
        except ProtocolError:
            self._fail(ErrorCode.BACKEND_UNAVAILABLE, "backend sent an invalid message")
            return
        except ChannelClosed:
            pass
        finally:
            if self._direct_backend is not None:
                self._direct_backend.set_receiver(None)
        if not (self._session.done or self._client_gone):
            self._fail(ErrorCode.BACKEND_UNAVAILABLE, "backend closed the stream")

    # -- the direct path: the common messages, handled in the WebSocket library's callback --

    def _client_now(self, data: bytes | str) -> bool:
        """Audio from the client, straight to the backend; False leaves the message (and the
        ones after it) to :meth:`_read_client`: anything but plain audio while streaming,
        or a peer that is not reading."""
        backend = self._direct_backend
        now = time.monotonic()
        if (
            self._client_busy
            or self._failure is not None
            or self._send_lock.locked()
            or not isinstance(data, bytes)
            or not data
            or len(data) > self._config.max_message_bytes
            or not self._accepting_audio
            or self._end_requested
            or not self._session.ready
            or backend is None
            or not backend.can_send_now()
            or now < self._slow_until
        ):
            return False
        try:
            pcm = pcm_from_bytes(data)
        except ProtocolError:
            return False  # _read_client reports it
        wait = self._budget.take(len(pcm) / SAMPLE_RATE, now)
        if wait > 0:  # the next audio goes to the reader, which waits this long first
            self._slow_until = now + wait
            self._note_throttled()
        self._last_audio = now
        try:
            self._session.audio(pcm)
            for out in self._session.data_to_send():
                backend.send_now(out)
            if not self._session.model.has_vad:
                self._note_backlog(now)
        except Exception:
            log.exception("stream crashed", extra={"stream": self._id})
            self._fail(ErrorCode.INTERNAL, "internal proxy error")
        return True

    def _backend_now(self, data: bytes | str) -> bool:
        """A backend message through the session, and its words to the client; False leaves
        it (and the ones after it) to :meth:`_read_backend`."""
        backend, client = self._direct_backend, self._direct_client
        if (
            self._backend_busy
            or self._send_lock.locked()
            or not isinstance(data, bytes)
            or self._client_gone
            or client is None
            or backend is None
            or not client.can_send_now()
            or not backend.can_send_now()
        ):
            return False
        try:
            message = moshi.decode_server(data)
        except UnknownMessageType:
            return True  # a newer moshi-server's addition
        except ProtocolError:
            return False  # _read_backend reports it
        now = time.monotonic()
        try:
            self._session.receive(message, now)
            for out in self._session.data_to_send():
                backend.send_now(out)
            if isinstance(message, moshi.Step):
                self._note_backlog(now)
            self._forward_events_now(client, now)
        except Exception:
            log.exception("stream crashed", extra={"stream": self._id})
            self._fail(ErrorCode.INTERNAL, "internal proxy error")
        return True

    def _forward_events_now(self, client: DirectChannel, now: float) -> None:
        """:meth:`_forward_events` without waiting (the client is reading)."""
        for event in self._session.events():
            if isinstance(event, _FORWARDED):
                self._last_sent = now
                client.send_now(stream.encode_server(event))
                if isinstance(event, stream.Token):
                    self._tokens_down += 1
                    self._stats.tokens += 1
            elif isinstance(event, stream.Error):
                self._fail(event.code or ErrorCode.BACKEND_UNAVAILABLE, event.message)
            elif isinstance(event, stream.End):
                self._changed.set()  # the flush is done

    async def _keepalive(self) -> None:
        interval = self._config.ping_interval
        while True:
            await asyncio.sleep(max(0.0, self._last_sent + interval - time.monotonic()))
            if time.monotonic() - self._last_sent >= interval:
                await self._send_client(stream.Ping())

    # -- helpers -------------------------------------------------------------------------

    @property
    def _interrupted(self) -> bool:
        return self._client_gone or self._failure is not None or self._shutting_down

    def _fail(self, code: ErrorCode, message: str) -> None:
        if self._failure is None:
            self._failure = Failure(code, message)
            log.warning(
                "stream error", extra={"stream": self._id, "code": code.value, "detail": message}
            )
        self._changed.set()

    async def _wait(self, condition: Callable[[], bool], timeout: float | None) -> bool:
        """Wait until ``condition()`` holds (re-checked whenever a reader reports) or timeout."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            self._changed.clear()
            if condition():
                return True
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                return False
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), remaining)

    async def _close_backend(self) -> None:
        """Release the backend slot (at once: nothing more is expected from it)."""
        if self._backend is not None:
            await self._backend.close()

    def _note_backlog(self, now: float) -> None:
        """Report a growing backlog in the metrics, and in the log once it passes a second."""
        samples = self._session.backlog_samples(now)
        if samples > self._max_backlog:
            if samples >= _BACKLOG_WARNING_SAMPLES > self._max_backlog:
                log.warning(
                    "backend falling behind",
                    extra={"stream": self._id, "buffered_s": round(samples / SAMPLE_RATE, 2)},
                )
            self._max_backlog = samples
            self._stats.max_backlog_samples = max(self._stats.max_backlog_samples, samples)

    async def _send_backend_data(self) -> None:
        """Send what the session has for the backend (call with the send lock held)."""
        assert self._backend is not None
        for data in self._session.data_to_send():
            try:
                await self._backend.send(data)
            except ChannelClosed:
                self._fail(ErrorCode.BACKEND_UNAVAILABLE, "backend closed the stream")
                return

    async def _forward_events(self) -> None:
        """Hand the session's events on: ready, words and vad_end to the client; its end of the
        flush and its errors to :meth:`run` (which answers the client)."""
        for event in self._session.events():
            if isinstance(event, stream.Token):
                self._tokens_down += 1
                await self._send_client(event)
            elif isinstance(event, stream.VadEnd | stream.Ready):
                await self._send_client(event)
            elif isinstance(event, stream.Error):
                self._fail(event.code or ErrorCode.BACKEND_UNAVAILABLE, event.message)
            elif isinstance(event, stream.End):
                self._changed.set()  # the flush is done

    async def _send_client(self, message: stream.ServerMessage) -> None:
        if self._client_gone:
            return
        self._last_sent = time.monotonic()
        try:
            async with asyncio.timeout(self._config.send_timeout):
                await self._client.send(stream.encode_server(message))
        except ChannelClosed:
            self._client_gone = True
            self._changed.set()
        except TimeoutError:  # a client that does not read must not keep its stream
            log.warning("client not reading; dropped", extra={"stream": self._id})
            self._drop_client()
        else:
            if isinstance(message, stream.Token):
                self._stats.tokens += 1


async def _cancel(tasks: list[asyncio.Task[None]]) -> None:
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
