"""The rules of one dictation session in one table, after h11's ``_state.py``
(python-hyper/h11): (state, event) -> the next state and the effect that produces the actions.

A pair the table lists as :class:`Ignore` may happen and is dropped on purpose; it says why.
A pair absent from the table cannot happen: the session raises :class:`SessionStateError`.
Three kinds of events reach the session:

- the keys and the microphone (start, stop, audio) race one another and the loop (autorepeat,
  a key-up queued behind a failure), so every pair of theirs is listed;
- the server and the connection (messages, failures) are input from outside: one that does not
  fit (a server breaking the protocol, a word of a connection already let go) is ignored,
  never taken for a bug of this program;
- the session's own requests coming back (``retry_due`` after ``RetryIn``; ``cancel``, which
  is sent only when ``waiting_after_release`` says so) are absent where they cannot come.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class Phase(Enum):
    """What the user sees (tray, overlay)."""

    IDLE = "idle"
    CONNECTING = "connecting"  # capturing; audio buffered until the backend is ready
    STREAMING = "streaming"  # capturing; audio sent as it comes
    DRAINING = "draining"  # capture stopped, end sent; words still arriving


class State(Enum):
    """The phase, with what the keys did meanwhile."""

    IDLE = "idle"
    CONNECTING = "connecting"  # key held: audio is buffered
    CONNECTING_RELEASED = "connecting, released"  # the buffered audio and end go out at ready
    STREAMING = "streaming"
    DRAINING = "draining"
    DRAINING_NEXT = "draining, next held"  # the next dictation captures into the buffer
    DRAINING_NEXT_RELEASED = "draining, next released"  # ... and is over: it connects at end


PHASE_OF = {
    State.IDLE: Phase.IDLE,
    State.CONNECTING: Phase.CONNECTING,
    State.CONNECTING_RELEASED: Phase.CONNECTING,
    State.STREAMING: Phase.STREAMING,
    State.DRAINING: Phase.DRAINING,
    State.DRAINING_NEXT: Phase.DRAINING,
    State.DRAINING_NEXT_RELEASED: Phase.DRAINING,
}


class Event(Enum):
    START = "start"  # key down, or toggle on
    STOP = "stop"  # key up, or toggle off
    AUDIO = "audio"  # a captured chunk
    READY = "ready"
    TOKEN = "token"
    VAD_END = "vad_end"
    PING = "ping"
    END = "end"
    RETRYABLE_FAILURE = "retryable failure"  # worth retrying, within the connect time limit
    FAILURE = "failure"  # any other: refused, or retrying would pass the time limit
    CANCEL = "cancel"  # give up a released dictation still waiting for the backend
    RETRY_DUE = "retry due"  # the delay of a RetryIn has passed
    TICK = "tick"  # no word for a while: held words may be released


class Effect(Enum):
    """What a move does besides changing state; the session carries each out."""

    NOTHING = "nothing"
    BEGIN = "begin"  # a new dictation: connect
    BUFFER = "buffer"  # keep the audio until ready (bounded, one warning)
    SEND_BUFFERED = "send buffered"
    SEND = "send"
    SEND_END = "send end"
    TYPE = "type"  # a word through the voice edits
    PAUSE = "pause"  # vad_end: held words are decided
    RELEASE = "release"  # a tick: held words a pause decides are released
    CONNECT = "connect"
    RETRY = "retry"  # disconnect, say so, retry after a backoff delay
    GIVE_UP = "give up"  # disconnect, drop the buffer: not transcribed
    FAIL = "fail"  # disconnect: the end may be missing
    FINISH = "finish"  # disconnect: every word came
    CANCEL = "cancel"  # disconnect, drop the buffer, say so


@dataclass(frozen=True)
class Move:
    """Go to ``to`` doing ``effect``, then handle the events of ``then`` there, in order."""

    to: State
    effect: Effect = Effect.NOTHING
    then: tuple[Event, ...] = ()


@dataclass(frozen=True)
class Ignore:
    why: str


class SessionStateError(RuntimeError):
    """An event the session cannot receive in its state: a bug in the caller."""


AUTOREPEAT = Ignore("key down while capturing: X11 autorepeat, or start sent twice")
AFTER_RELEASE = Ignore("audio after key-up is not dictated (frames racing the key-up)")
STOP_AGAIN = Ignore(
    "key up with the audio already over: a press that came before the previous key-up's "
    "queued stop was taken for autorepeat, and now it is released"
)
BEFORE_READY = Ignore("the server says nothing before ready: a server breaking the protocol")
READY_AGAIN = Ignore("ready comes once per connection: a server breaking the protocol")
STALE = Ignore("the connection was let go when the dictation ended: this belongs to none")
NO_WORDS = Ignore("no word of this dictation has come: nothing is held")
PING = Ignore("keeps the socket alive; nothing for the dictation")

_S, _E, _F = State, Event, Effect
# Absent pairs raise: CANCEL and RETRY_DUE outside the two CONNECTING states.
TABLE: dict[State, dict[Event, Move | Ignore]] = {
    _S.IDLE: {
        _E.START: Move(_S.CONNECTING, _F.BEGIN),
        _E.STOP: Ignore("a key-up queued behind a failure that ended the dictation"),
        _E.AUDIO: Ignore("the microphone of a failed dictation closes on the next loop turn"),
        _E.READY: STALE,
        _E.TOKEN: STALE,
        _E.VAD_END: STALE,
        _E.PING: PING,
        _E.END: STALE,
        _E.RETRYABLE_FAILURE: STALE,
        _E.FAILURE: STALE,
        _E.TICK: Ignore("a tick due to a dictation already over"),
    },
    _S.CONNECTING: {
        _E.START: AUTOREPEAT,
        _E.STOP: Move(_S.CONNECTING_RELEASED),  # end goes out after the buffered audio
        _E.AUDIO: Move(_S.CONNECTING, _F.BUFFER),
        _E.READY: Move(_S.STREAMING, _F.SEND_BUFFERED),
        _E.TOKEN: BEFORE_READY,
        _E.VAD_END: BEFORE_READY,
        _E.PING: PING,
        _E.END: BEFORE_READY,
        _E.RETRYABLE_FAILURE: Move(_S.CONNECTING, _F.RETRY),
        _E.FAILURE: Move(_S.IDLE, _F.GIVE_UP),
        _E.CANCEL: Ignore("held, the user is still speaking: nothing to give up"),
        _E.RETRY_DUE: Move(_S.CONNECTING, _F.CONNECT),
        _E.TICK: NO_WORDS,
    },
    _S.CONNECTING_RELEASED: {
        _E.START: Move(_S.CONNECTING),  # pressed again before ready: the same dictation
        _E.STOP: STOP_AGAIN,
        _E.AUDIO: AFTER_RELEASE,
        _E.READY: Move(_S.STREAMING, _F.SEND_BUFFERED, then=(_E.STOP,)),
        _E.TOKEN: BEFORE_READY,
        _E.VAD_END: BEFORE_READY,
        _E.PING: PING,
        _E.END: BEFORE_READY,
        _E.RETRYABLE_FAILURE: Move(_S.CONNECTING_RELEASED, _F.RETRY),
        _E.FAILURE: Move(_S.IDLE, _F.GIVE_UP),
        _E.CANCEL: Move(_S.IDLE, _F.CANCEL),
        _E.RETRY_DUE: Move(_S.CONNECTING_RELEASED, _F.CONNECT),
        _E.TICK: NO_WORDS,
    },
    _S.STREAMING: {
        _E.START: AUTOREPEAT,
        _E.STOP: Move(_S.DRAINING, _F.SEND_END),
        _E.AUDIO: Move(_S.STREAMING, _F.SEND),
        _E.READY: READY_AGAIN,
        _E.TOKEN: Move(_S.STREAMING, _F.TYPE),
        _E.VAD_END: Move(_S.STREAMING, _F.PAUSE),
        _E.TICK: Move(_S.STREAMING, _F.RELEASE),
        _E.PING: PING,
        _E.END: Ignore(
            "the server's end answers ours, not sent yet: a server breaking the protocol "
            "(the close that follows is reported as a failure)"
        ),
        _E.RETRYABLE_FAILURE: Move(_S.IDLE, _F.FAIL),  # streamed audio cannot be sent again
        _E.FAILURE: Move(_S.IDLE, _F.FAIL),
    },
    _S.DRAINING: {
        _E.START: Move(_S.DRAINING_NEXT),  # the next dictation: captured meanwhile
        _E.STOP: STOP_AGAIN,
        _E.AUDIO: AFTER_RELEASE,
        _E.READY: READY_AGAIN,
        _E.TOKEN: Move(_S.DRAINING, _F.TYPE),
        _E.VAD_END: Move(_S.DRAINING, _F.PAUSE),
        _E.TICK: Move(_S.DRAINING, _F.RELEASE),
        _E.PING: PING,
        _E.END: Move(_S.IDLE, _F.FINISH),
        _E.RETRYABLE_FAILURE: Move(_S.IDLE, _F.FAIL),
        _E.FAILURE: Move(_S.IDLE, _F.FAIL),
    },
    # The last dictation's words still come; when it is over, the next one starts.
    _S.DRAINING_NEXT: {
        _E.START: AUTOREPEAT,
        _E.STOP: Move(_S.DRAINING_NEXT_RELEASED),
        _E.AUDIO: Move(_S.DRAINING_NEXT, _F.BUFFER),
        _E.READY: READY_AGAIN,
        _E.TOKEN: Move(_S.DRAINING_NEXT, _F.TYPE),
        _E.VAD_END: Move(_S.DRAINING_NEXT, _F.PAUSE),
        _E.TICK: Move(_S.DRAINING_NEXT, _F.RELEASE),
        _E.PING: PING,
        _E.END: Move(_S.IDLE, _F.FINISH, then=(_E.START,)),
        _E.RETRYABLE_FAILURE: Move(_S.IDLE, _F.FAIL, then=(_E.START,)),
        _E.FAILURE: Move(_S.IDLE, _F.FAIL, then=(_E.START,)),
    },
    _S.DRAINING_NEXT_RELEASED: {
        _E.START: Move(_S.DRAINING_NEXT),  # pressed again: its audio is kept too
        _E.STOP: STOP_AGAIN,
        _E.AUDIO: AFTER_RELEASE,
        _E.READY: READY_AGAIN,
        _E.TOKEN: Move(_S.DRAINING_NEXT_RELEASED, _F.TYPE),
        _E.VAD_END: Move(_S.DRAINING_NEXT_RELEASED, _F.PAUSE),
        _E.TICK: Move(_S.DRAINING_NEXT_RELEASED, _F.RELEASE),
        _E.PING: PING,
        _E.END: Move(_S.IDLE, _F.FINISH, then=(_E.START, _E.STOP)),
        _E.RETRYABLE_FAILURE: Move(_S.IDLE, _F.FAIL, then=(_E.START, _E.STOP)),
        _E.FAILURE: Move(_S.IDLE, _F.FAIL, then=(_E.START, _E.STOP)),
    },
}
TRANSITIONS = {(state, event): rule for state, row in TABLE.items() for event, rule in row.items()}


def rule_for(state: State, event: Event) -> Move | Ignore:
    """The table's rule, or :class:`SessionStateError` for a pair that cannot happen."""
    try:
        return TABLE[state][event]
    except KeyError:
        raise SessionStateError(
            f"the dictation session cannot handle {event.name} in state {state.name}"
        ) from None
