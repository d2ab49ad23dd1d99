"""One dictation, from key-down to the last word typed: a pure state machine.

Capture starts at key-down and the connection opens at the same time; audio captured before
the backend is ready is buffered (bounded) and sent, in order, once it is. At key-up the
session asks for ``end`` and keeps typing until the server's ``end``, so neither the first
nor the last words are lost. A failed connect is retried with backoff while the buffer holds;
a failure the user must fix is shown, not retried.

Methods take events and return actions for the I/O edges to carry out. No sockets, no Qt.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from enum import Enum

from app.core.reconnect import Verdict, backoff, classify_error
from app.core.spacing import Spacer
from server.protocol.audio import BYTES_PER_SAMPLE, SAMPLE_RATE
from server.protocol.stream import End, Error, Ready, ServerMessage, Token

SEND_CHUNK_BYTES = 24_000 * BYTES_PER_SAMPLE  # buffered audio goes out in 1 s messages


class Phase(Enum):
    IDLE = "idle"
    CONNECTING = "connecting"  # capturing; audio buffered until the backend is ready
    STREAMING = "streaming"  # capturing; audio sent as it comes
    DRAINING = "draining"  # capture stopped, end sent; words still arriving


@dataclass(frozen=True)
class Connect:
    """Open the connection to the backend."""


@dataclass(frozen=True)
class SendAudio:
    pcm: bytes  # float32 little-endian samples


@dataclass(frozen=True)
class SendEnd:
    """Send ``{"type": "end"}``."""


@dataclass(frozen=True)
class Disconnect:
    """Close the connection (the session is over or has failed)."""


@dataclass(frozen=True)
class TypeText:
    text: str


@dataclass(frozen=True)
class RetryIn:
    """Call :meth:`DictationSession.retry_due` after ``seconds``."""

    seconds: float


@dataclass(frozen=True)
class PhaseChanged:
    phase: Phase


@dataclass(frozen=True)
class Notify:
    """Something the user should see (tray, overlay); ``error`` ends the dictation."""

    message: str
    error: bool = False


Action = Connect | SendAudio | SendEnd | Disconnect | TypeText | RetryIn | PhaseChanged | Notify


@dataclass
class DictationSession:
    max_buffer_seconds: float = 60.0
    max_connect_seconds: float = 120.0  # give up connecting after this much waiting in total
    leading_space: bool = False
    phase: Phase = Phase.IDLE
    _buffer: list[bytes] = field(default_factory=list)
    _buffered_bytes: int = 0
    _overflowed: bool = False
    _stop_requested: bool = False
    _restart_after_drain: bool = False
    _spacer: Spacer = field(default_factory=Spacer)
    clock: Callable[[], float] = time.monotonic  # for the connect time limit
    _delays: Iterator[float] = field(default_factory=backoff)
    _connect_since: float = 0.0

    # -- events -------------------------------------------------------------------------

    def start(self) -> list[Action]:
        """Key down (or toggle on). Ignored while capturing (key autorepeat).

        While the previous dictation drains, the next one starts capturing at once: its
        audio is kept and it connects as soon as the previous one has ended. A press after
        the release but before the backend was ready continues the same dictation.
        """
        if self.phase is Phase.DRAINING:
            if not self._restart_after_drain:
                self._restart_after_drain = True
                self._reset_buffer()
            self._stop_requested = False  # from now on: the next dictation's
            return []
        if self.phase is Phase.CONNECTING:
            self._stop_requested = False
            return []
        if self.phase is not Phase.IDLE:
            return []
        self._reset_buffer()
        return self._begin()

    def _reset_buffer(self) -> None:
        self._buffer, self._buffered_bytes, self._overflowed = [], 0, False

    def _begin(self) -> list[Action]:
        self._stop_requested = self._restart_after_drain = False
        self._spacer = Spacer(leading_space=self.leading_space)
        self._delays, self._connect_since = backoff(), self.clock()
        return [*self._enter(Phase.CONNECTING), Connect()]

    def stop(self) -> list[Action]:
        """Key up (or toggle off): no more audio; every word of it will still be typed."""
        if self._restart_after_drain:  # the next dictation was short: it ends once it starts
            self._stop_requested = True
            return []
        if self.phase is Phase.CONNECTING:
            self._stop_requested = True  # end goes out after the buffered audio
            return []
        if self.phase is Phase.STREAMING:
            return [SendEnd(), *self._enter(Phase.DRAINING)]
        return []

    def audio(self, pcm: bytes) -> list[Action]:
        """A captured chunk of float32 samples."""
        if self.phase is Phase.STREAMING:
            return [SendAudio(pcm)]
        next_one = self.phase is Phase.DRAINING and self._restart_after_drain
        if not (self.phase is Phase.CONNECTING or next_one) or self._stop_requested:
            return []
        limit = self.max_buffer_seconds * SAMPLE_RATE * BYTES_PER_SAMPLE
        if self._buffered_bytes + len(pcm) > limit:
            if self._overflowed:
                return []
            self._overflowed = True
            seconds = f"{self.max_buffer_seconds:g}"
            return [Notify(f"the backend is slow to start: audio after {seconds} s is dropped")]
        self._buffer.append(pcm)
        self._buffered_bytes += len(pcm)
        return []

    def message(self, message: ServerMessage) -> list[Action]:
        """A message from the server."""
        if isinstance(message, Ready) and self.phase is Phase.CONNECTING:
            return self._on_ready()
        if isinstance(message, Token) and self.phase in (Phase.STREAMING, Phase.DRAINING):
            text = self._spacer.text_for(message.text)
            return [TypeText(text)] if text else []
        if isinstance(message, End) and self.phase is Phase.DRAINING:
            return [Disconnect(), *self._finish()]
        if isinstance(message, Error):
            return self.connection_failed(classify_error(message.code), message.message)
        return []

    def connection_failed(self, verdict: Verdict, reason: str) -> list[Action]:
        """The connection could not be opened, or closed without ``end``."""
        if self.phase is Phase.CONNECTING and verdict is Verdict.RETRY:
            delay = next(self._delays)
            if self.clock() + delay - self._connect_since <= self.max_connect_seconds:
                return [Disconnect(), Notify(f"{reason}; retrying"), RetryIn(delay)]
            reason = f"{reason}; gave up after {self.max_connect_seconds:g} s"
        if self.phase is Phase.IDLE:
            return []
        if self.phase is Phase.CONNECTING:
            detail = "this dictation was not transcribed"
        else:
            detail = "the end of this dictation may be missing"
        return [Disconnect(), Notify(f"{reason} ({detail})", error=True), *self._finish()]

    def cancel(self) -> list[Action]:
        """The user gave up on a dictation still waiting for the backend (audio released)."""
        if self.phase is not Phase.CONNECTING or not self._stop_requested:
            return []
        notice = Notify("dictation cancelled before the backend was ready: not transcribed")
        return [Disconnect(), notice, *self._finish()]

    @property
    def waiting_after_release(self) -> bool:
        """Connecting, with the audio already over: only the backend is awaited."""
        return self.phase is Phase.CONNECTING and self._stop_requested

    def retry_due(self) -> list[Action]:
        """The delay of a :class:`RetryIn` has passed."""
        return [Connect()] if self.phase is Phase.CONNECTING else []

    # -- helpers --------------------------------------------------------------------------

    def _on_ready(self) -> list[Action]:
        actions: list[Action] = [*self._enter(Phase.STREAMING)]
        pending = b"".join(self._buffer)
        self._buffer, self._buffered_bytes = [], 0
        actions += [
            SendAudio(pending[i : i + SEND_CHUNK_BYTES])
            for i in range(0, len(pending), SEND_CHUNK_BYTES)
        ]
        if self._stop_requested:
            actions += [SendEnd(), *self._enter(Phase.DRAINING)]
        return actions

    def _finish(self) -> list[Action]:
        restart, stop = self._restart_after_drain, self._stop_requested
        actions: list[Action] = [*self._enter(Phase.IDLE)]
        if not restart:
            return actions
        actions += self._begin()
        self._stop_requested = stop
        return actions

    def _enter(self, phase: Phase) -> list[Action]:
        self.phase = phase
        return [PhaseChanged(phase)]
