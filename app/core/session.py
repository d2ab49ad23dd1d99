"""One dictation, from key-down to the last word typed: a pure state machine.

Capture starts at key-down and the connection opens at the same time; audio captured before
the backend is ready is buffered (bounded) and sent, in order, once it is. At key-up the
session asks for ``end`` and keeps typing until the server's ``end``, so neither the first
nor the last words are lost. A failed connect is retried with backoff while the buffer holds;
a failure the user must fix is shown, not retried.

Words go through the voice edits (:mod:`app.core.voice_edits`): commands and replacements
turn them into text to type, characters to delete and keys to press. A word that may begin a
command is held until a later word, ``vad_end``, the end, or a :meth:`DictationSession.tick`
once no word has come for a pause (the edge calls it at :attr:`DictationSession.tick_due`).

Methods take events and return actions for the I/O edges to carry out. No sockets, no Qt.
Which event does what in which state is the table of :mod:`app.core.session_table`; an event
that cannot happen raises :class:`SessionStateError`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace

from app.core.reconnect import Verdict, backoff, classify_error
from app.core.session_table import (
    PHASE_OF,
    Effect,
    Event,
    Ignore,
    Phase,
    SessionStateError,
    State,
    rule_for,
)
from app.core.voice_edits import (
    DeleteEdit,
    Edit,
    PressEdit,
    StopEdit,
    TypeEdit,
    VoiceEditConfig,
    VoiceEdits,
)
from server.protocol.audio import BYTES_PER_SAMPLE, SAMPLE_RATE
from server.protocol.stream import End, Error, Ping, Ready, ServerMessage, Token, VadEnd

__all__ = [
    "SEND_CHUNK_BYTES",
    "TICK_MARGIN",
    "Action",
    "Connect",
    "DeleteEdit",
    "DictationSession",
    "Disconnect",
    "Notify",
    "Phase",
    "PhaseChanged",
    "PressEdit",
    "RetryIn",
    "SendAudio",
    "SendEnd",
    "SessionStateError",
    "State",
    "StopEdit",
    "TypeText",
]

SEND_CHUNK_BYTES = 24_000 * BYTES_PER_SAMPLE  # buffered audio goes out in 1 s messages
# Words arrive in real time, so no word for a pause after the last one's arrival means none
# starts within a pause of it; this much more is allowed for the network's jitter.
TICK_MARGIN = 0.15


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


# DeleteEdit, PressEdit and StopEdit (from the voice edits) act on the window and the keys.
Action = (
    Connect
    | SendAudio
    | SendEnd
    | Disconnect
    | TypeText
    | DeleteEdit
    | PressEdit
    | StopEdit
    | RetryIn
    | PhaseChanged
    | Notify
)


# A move into CONNECTING or STREAMING is announced before its actions (Connect and the buffered
# audio belong to the new phase); one into DRAINING or IDLE after them (SendEnd, Disconnect
# and the notice close the old one).
_ANNOUNCED_FIRST = {Phase.CONNECTING, Phase.STREAMING}
_EVENT_OF = {Ready: Event.READY, End: Event.END, VadEnd: Event.VAD_END, Ping: Event.PING}


@dataclass
class DictationSession:
    max_buffer_seconds: float = 60.0
    max_connect_seconds: float = 120.0  # give up connecting after this much waiting in total
    leading_space: bool = False
    # Voice commands and replacements; off by default here (the app passes the user's).
    voice: VoiceEditConfig = field(default_factory=lambda: VoiceEditConfig(commands=False))
    clock: Callable[[], float] = time.monotonic  # for the connect limit and the pauses
    _state: State = State.IDLE
    # Audio of a dictation whose backend is not ready yet (CONNECTING, DRAINING_NEXT*);
    # empty in the other states.
    _buffer: list[bytes] = field(default_factory=list)
    _buffered_bytes: int = 0
    _overflowed: bool = False
    _edits: VoiceEdits = field(default_factory=VoiceEdits)
    _last_word: tuple[float, float] | None = None  # its start, and when it arrived
    _delays: Iterator[float] = field(default_factory=backoff)
    _delay: float | None = None  # the next retry's, drawn from _delays when first needed
    _connect_since: float = 0.0

    @property
    def state(self) -> State:
        return self._state

    @property
    def phase(self) -> Phase:
        return PHASE_OF[self._state]

    @property
    def tick_due(self) -> float | None:
        """When (by ``clock``) :meth:`tick` may release a held word; None: nothing held."""
        if not self._edits.held or self._last_word is None:
            return None
        return self._last_word[1] + self._edits.config.pause_seconds + TICK_MARGIN

    @property
    def words_released(self) -> int:
        """Words of this dictation that went through the voice edits (typed, acted on or
        dropped after "stop dictation")."""
        return self._edits.consumed + self._edits.dropped

    @property
    def waiting_after_release(self) -> bool:
        """Connecting, with the audio already over: only the backend is awaited."""
        return self._state is State.CONNECTING_RELEASED

    # -- events -------------------------------------------------------------------------

    def start(self) -> list[Action]:
        """Key down (or toggle on). Ignored while capturing (key autorepeat).

        While the previous dictation drains, the next one starts capturing at once: its
        audio is kept and it connects as soon as the previous one has ended. A press after
        the release but before the backend was ready continues the same dictation.
        """
        return self._handle(Event.START)

    def stop(self) -> list[Action]:
        """Key up (or toggle off): no more audio; every word of it will still be typed."""
        return self._handle(Event.STOP)

    def audio(self, pcm: bytes) -> list[Action]:
        """A captured chunk of float32 samples."""
        return self._handle(Event.AUDIO, pcm)

    def message(self, message: ServerMessage) -> list[Action]:
        """A message from the server."""
        if isinstance(message, Error):
            return self.connection_failed(classify_error(message.code), message.message)
        if isinstance(message, Token):
            # The original service sends no start: the word's arrival stands in for it.
            start = self.clock() if message.start is None else message.start
            return self._handle(Event.TOKEN, message.text, start)
        return self._handle(_EVENT_OF[type(message)])

    def connection_failed(self, verdict: Verdict, reason: str) -> list[Action]:
        """The connection could not be opened, or closed without ``end``."""
        retry = verdict is Verdict.RETRY and self._retry_fits()
        return self._handle(Event.RETRYABLE_FAILURE if retry else Event.FAILURE, verdict, reason)

    def cancel(self) -> list[Action]:
        """The user gave up on a dictation still waiting for the backend (audio released).

        Raises :class:`SessionStateError` unless connecting; held, it does nothing."""
        return self._handle(Event.CANCEL)

    def tick(self) -> list[Action]:
        """Time has passed with no word (see :attr:`tick_due`): release what a pause decides."""
        return self._handle(Event.TICK)

    def retry_due(self) -> list[Action]:
        """The delay of a :class:`RetryIn` has passed (raises unless connecting)."""
        return self._handle(Event.RETRY_DUE)

    # -- the table's moves ----------------------------------------------------------------

    def _handle(self, event: Event, *data: object) -> list[Action]:
        rule = rule_for(self._state, event)
        if isinstance(rule, Ignore):
            return []
        actions = self._effect(rule.effect, data)
        before, self._state = PHASE_OF[self._state], rule.to
        if self.phase is not before:
            change = PhaseChanged(self.phase)
            actions = [change, *actions] if self.phase in _ANNOUNCED_FIRST else [*actions, change]
        for then in rule.then:
            actions += self._handle(then)
        return actions

    def _effect(self, effect: Effect, data: tuple[object, ...]) -> list[Action]:
        match effect, data:
            case Effect.NOTHING, ():
                return []
            case Effect.BEGIN, ():
                return self._begin()
            case Effect.BUFFER, (bytes() as pcm,):
                return self._keep(pcm)
            case Effect.SEND_BUFFERED, ():
                return self._send_buffered()
            case Effect.SEND, (bytes() as pcm,):
                return [SendAudio(pcm)]
            case Effect.SEND_END, ():
                return [SendEnd()]
            case Effect.TYPE, (str() as token, float() | int() as start):
                self._last_word = (start, self.clock())
                return _actions(self._edits.word(token, start))
            case Effect.PAUSE, ():
                return _actions(self._edits.vad_end())
            case Effect.RELEASE, ():
                if self._last_word is None:
                    return []
                start, arrived = self._last_word
                return _actions(self._edits.tick(start + self.clock() - arrived - TICK_MARGIN))
            case Effect.CONNECT, ():
                return [Connect()]
            case Effect.RETRY, (Verdict(), str() as reason):
                return self._retry(reason)
            case Effect.GIVE_UP, (Verdict() as verdict, str() as reason):
                if verdict is Verdict.RETRY:  # retrying would pass the time limit
                    reason = f"{reason}; gave up after {self.max_connect_seconds:g} s"
                self._drop_buffer()
                return [
                    Disconnect(),
                    Notify(f"{reason} (this dictation was not transcribed)", True),
                ]
            case Effect.FAIL, (Verdict(), str() as reason):
                detail = "the end of this dictation may be missing"
                held = _actions(self._edits.finish())
                return [*held, Disconnect(), Notify(f"{reason} ({detail})", error=True)]
            case Effect.FINISH, ():
                return [*_actions(self._edits.finish()), Disconnect()]
            case Effect.CANCEL, ():
                self._drop_buffer()
                notice = "dictation cancelled before the backend was ready: not transcribed"
                return [Disconnect(), Notify(notice)]
        raise AssertionError(f"no effect {effect} for {data!r}")  # pragma: no cover

    # -- helpers --------------------------------------------------------------------------

    def _begin(self) -> list[Action]:
        """A new dictation; its buffer may already hold audio (pressed while draining)."""
        self._edits = VoiceEdits(replace(self.voice, leading_space=self.leading_space))
        self._last_word = None
        self._delays, self._delay, self._connect_since = backoff(), None, self.clock()
        return [Connect()]

    def _keep(self, pcm: bytes) -> list[Action]:
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

    def _send_buffered(self) -> list[Action]:
        pending = b"".join(self._buffer)
        self._drop_buffer()
        return [
            SendAudio(pending[i : i + SEND_CHUNK_BYTES])
            for i in range(0, len(pending), SEND_CHUNK_BYTES)
        ]

    def _drop_buffer(self) -> None:
        self._buffer, self._buffered_bytes, self._overflowed = [], 0, False

    def _next_delay(self) -> float:
        if self._delay is None:
            self._delay = next(self._delays)
        return self._delay

    def _retry_fits(self) -> bool:
        """Whether the next retry would still start within the connect time limit."""
        elapsed = self.clock() + self._next_delay() - self._connect_since
        return elapsed <= self.max_connect_seconds

    def _retry(self, reason: str) -> list[Action]:
        delay, self._delay = self._next_delay(), None
        return [Disconnect(), Notify(f"{reason}; retrying"), RetryIn(delay)]


def _actions(edits: list[Edit]) -> list[Action]:
    return [TypeText(e.text) if isinstance(e, TypeEdit) else e for e in edits]
