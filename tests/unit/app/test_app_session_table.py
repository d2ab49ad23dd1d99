"""The dictation session's rules are one table: each (state, event) pair is a move, an ignore
that says why, or absent, and then the event raises :class:`SessionStateError`."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.core.reconnect import Verdict
from app.core.session import (
    Action,
    Connect,
    DictationSession,
    Disconnect,
    Notify,
    Phase,
    PhaseChanged,
    SendAudio,
    SendEnd,
    SessionStateError,
)
from app.core.session_table import PHASE_OF, TRANSITIONS, Event, Ignore, State
from server.protocol import ErrorCode
from server.protocol.stream import End, Error, Ping, Ready, Token, VadEnd

# The pairs the app never sends: cancel is sent only when ``waiting_after_release`` says so
# (DictateApp.toggle), and the retry timer is cancelled by every Disconnect (Dictation).
CANNOT_HAPPEN = {
    (state, event)
    for state in (
        State.IDLE,
        State.STREAMING,
        State.DRAINING,
        State.DRAINING_NEXT,
        State.DRAINING_NEXT_RELEASED,
    )
    for event in (Event.CANCEL, Event.RETRY_DUE)
}

# From IDLE, the events that lead to each state.
PATHS = {
    State.IDLE: [],
    State.CONNECTING: [Event.START],
    State.CONNECTING_RELEASED: [Event.START, Event.STOP],
    State.STREAMING: [Event.START, Event.READY],
    State.DRAINING: [Event.START, Event.READY, Event.STOP],
    State.DRAINING_NEXT: [Event.START, Event.READY, Event.STOP, Event.START],
    State.DRAINING_NEXT_RELEASED: [Event.START, Event.READY, Event.STOP, Event.START, Event.STOP],
}


def fire(session: DictationSession, event: Event) -> list[Action]:
    """``event`` through the session's public methods, as the I/O edge sends it."""
    match event:
        case Event.START:
            return session.start()
        case Event.STOP:
            return session.stop()
        case Event.AUDIO:
            return session.audio(b"\x00" * 8)
        case Event.READY:
            return session.message(Ready())
        case Event.TOKEN:
            return session.message(Token(" word", 0.0))
        case Event.VAD_END:
            return session.message(VadEnd())
        case Event.PING:
            return session.message(Ping())
        case Event.END:
            return session.message(End())
        case Event.RETRYABLE_FAILURE:
            return session.connection_failed(Verdict.RETRY, "busy")
        case Event.FAILURE:
            return session.connection_failed(Verdict.FATAL, "refused")
        case Event.CANCEL:
            return session.cancel()
        case Event.RETRY_DUE:
            return session.retry_due()
        case Event.TICK:
            return session.tick()


def session_in(state: State) -> DictationSession:
    session = DictationSession(clock=lambda: 0.0)  # a frozen clock: retries always fit
    for event in PATHS[state]:
        fire(session, event)
    assert session.state is state
    return session


def test_every_pair_is_in_the_table_or_cannot_happen() -> None:
    every_pair = set(itertools.product(State, Event))
    assert every_pair - TRANSITIONS.keys() == CANNOT_HAPPEN
    assert all(rule.why for rule in TRANSITIONS.values() if isinstance(rule, Ignore))
    assert set(PHASE_OF) == set(State)


@pytest.mark.parametrize(("state", "event"), sorted(CANNOT_HAPPEN, key=str))
def test_an_event_that_cannot_happen_raises_and_changes_nothing(state: State, event: Event) -> None:
    session = session_in(state)
    with pytest.raises(SessionStateError, match=f"{event.name}.*{state.name}"):
        fire(session, event)
    assert session.state is state


def follow(state: State, event: Event) -> tuple[State, list[Phase]] | None:
    """Where the table says ``event`` leads from ``state``, and the phases it announces."""
    rule = TRANSITIONS[(state, event)]
    if isinstance(rule, Ignore):
        return None
    phases = [PHASE_OF[rule.to]] if PHASE_OF[rule.to] is not PHASE_OF[state] else []
    end = rule.to
    for then in rule.then:
        step = follow(end, then)
        assert step is not None, f"{rule} chains into an ignored event"
        end, more = step
        phases += more
    return end, phases


def check(session: DictationSession, event: Event) -> None:
    """``event`` does what the table says: raises, is ignored, or moves and announces."""
    before = session.state
    if (before, event) in CANNOT_HAPPEN:
        with pytest.raises(SessionStateError):
            fire(session, event)
        assert session.state is before
        return
    actions = fire(session, event)
    step = follow(before, event)
    if step is None:  # ignored on purpose: nothing happens
        assert actions == []
        assert session.state is before
        return
    end, phases = step
    assert session.state is end
    assert session.phase is PHASE_OF[end]
    assert [a.phase for a in actions if isinstance(a, PhaseChanged)] == phases
    assert session.waiting_after_release == (end is State.CONNECTING_RELEASED)


@pytest.mark.parametrize(("state", "event"), list(itertools.product(State, Event)))
def test_each_pair_does_what_the_table_says(state: State, event: Event) -> None:
    check(session_in(state), event)


# The keys and the server's ready and end lead to the deeper states: drawn more often.
events = st.sampled_from([*Event, *[Event.START, Event.STOP, Event.READY, Event.END] * 3])


@given(st.lists(events, max_size=60))
def test_any_sequence_does_what_the_table_says(sequence: list[Event]) -> None:
    session = DictationSession(clock=lambda: 0.0)
    for event in sequence:
        check(session, event)


def test_an_error_message_is_a_failure_of_its_verdict() -> None:
    retried = session_in(State.CONNECTING).message(Error("no slot", ErrorCode.BUSY))
    assert Disconnect() in retried
    refused = session_in(State.CONNECTING)
    refused.message(Error("bad token", ErrorCode.UNAUTHORIZED))
    assert refused.state is State.IDLE


def test_release_before_ready_streams_then_ends_in_that_order() -> None:
    session = session_in(State.CONNECTING)
    session.audio(b"\x01" * 8)
    session.stop()
    assert session.message(Ready()) == [
        PhaseChanged(Phase.STREAMING),
        SendAudio(b"\x01" * 8),
        SendEnd(),
        PhaseChanged(Phase.DRAINING),
    ]


@pytest.mark.parametrize(
    ("state", "then"),
    [
        (State.DRAINING_NEXT, State.CONNECTING),
        (State.DRAINING_NEXT_RELEASED, State.CONNECTING_RELEASED),
    ],
)
def test_a_failure_while_the_next_dictation_waits_still_starts_it(
    state: State, then: State
) -> None:
    session = session_in(state)
    actions = session.connection_failed(Verdict.FATAL, "connection lost")
    assert actions[0] == Disconnect()
    assert isinstance(actions[1], Notify)
    assert "may be missing" in actions[1].message
    assert actions[2:] == [PhaseChanged(Phase.IDLE), PhaseChanged(Phase.CONNECTING), Connect()]
    assert session.state is then


def test_overflow_is_warned_again_in_the_next_dictation() -> None:
    session = DictationSession(max_buffer_seconds=0.001)  # 96 bytes
    session.start()
    warned = [a for _ in range(4) for a in session.audio(b"\x00" * 40) if isinstance(a, Notify)]
    session.message(Ready())
    session.stop()
    session.message(End())
    session.start()
    again = [a for _ in range(4) for a in session.audio(b"\x00" * 40) if isinstance(a, Notify)]
    assert len(warned) == len(again) == 1
