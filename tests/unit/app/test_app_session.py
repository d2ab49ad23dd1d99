"""The dictation session state machine: no audio or word lost, whatever the timing."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.core.reconnect import (
    Verdict,
    backoff,
    classify_close,
    classify_error,
    classify_http_status,
)
from app.core.session import (
    Connect,
    DictationSession,
    Disconnect,
    Notify,
    Phase,
    RetryIn,
    SendAudio,
    SendEnd,
    TypeText,
)
from server.protocol import ErrorCode
from server.protocol.stream import End, Error, Ready, Token

chunks = st.lists(
    st.binary(min_size=4, max_size=64).map(lambda b: b[: len(b) // 4 * 4]), max_size=30
)


def of(kind: type, actions: list[object]) -> list[object]:
    return [a for a in actions if isinstance(a, kind)]


@given(chunks, st.data())
def test_every_captured_sample_is_sent_once_in_order(
    audio: list[bytes], data: st.DataObject
) -> None:
    """Ready and key-up may come at any point; the backend gets exactly what was captured."""
    ready_at = data.draw(st.integers(0, len(audio)))
    stop_at = data.draw(st.integers(0, len(audio)))
    session = DictationSession()
    actions = session.start()
    for i, chunk in enumerate(audio):
        if i == ready_at:
            actions += session.message(Ready())
        if i == stop_at:
            actions += session.stop()
        actions += session.audio(chunk)  # capture stops at key-up: the edge sends no more
    if ready_at >= len(audio):
        actions += session.message(Ready())
    if stop_at >= len(audio):
        actions += session.stop()
    sent = b"".join(a.pcm for a in of(SendAudio, actions))  # type: ignore[attr-defined]
    assert sent == b"".join(audio[:stop_at])
    ends = [i for i, a in enumerate(actions) if isinstance(a, SendEnd)]
    assert len(ends) == 1
    assert all(i < ends[0] for i, a in enumerate(actions) if isinstance(a, SendAudio))
    assert of(Connect, actions) == [Connect()]
    assert session.phase is Phase.DRAINING


def test_words_are_typed_until_the_servers_end() -> None:
    session = DictationSession()
    session.start()
    session.message(Ready())
    typed = session.message(Token(" Hello", 0.1))
    typed += session.stop()
    typed += session.message(Token(" world.", 0.5))  # after key-up, before end
    typed += session.message(End())
    assert of(TypeText, typed) == [TypeText("Hello"), TypeText(" world.")]
    assert Disconnect() in typed
    assert session.phase is Phase.IDLE
    assert session.message(Token(" late", 1.0)) == []


def test_autorepeat_does_not_restart_and_a_press_while_draining_starts_the_next() -> None:
    session = DictationSession()
    assert Connect() in session.start()
    assert session.start() == []  # X11 autorepeat: more presses while held
    session.message(Ready())
    assert session.start() == []
    session.stop()
    assert session.start() == []  # pressed again while the last words are coming
    after = session.message(End())
    assert Connect() in after
    assert session.phase is Phase.CONNECTING


def test_retryable_connect_failures_keep_the_buffer_and_retry() -> None:
    session = DictationSession()
    session.start()
    session.audio(b"\x01" * 8)
    actions = session.connection_failed(Verdict.RETRY, "backend not reachable")
    delays = of(RetryIn, actions)
    assert len(delays) == 1
    assert delays[0].seconds > 0  # type: ignore[attr-defined]
    assert session.phase is Phase.CONNECTING
    assert session.retry_due() == [Connect()]
    session.audio(b"\x02" * 8)
    sent = of(SendAudio, session.message(Ready()))
    assert b"".join(a.pcm for a in sent) == b"\x01" * 8 + b"\x02" * 8  # type: ignore[attr-defined]


def test_fatal_failures_are_shown_and_not_retried() -> None:
    session = DictationSession()
    session.start()
    actions = session.message(Error("missing or invalid token", ErrorCode.UNAUTHORIZED))
    notices = of(Notify, actions)
    assert notices[0].error  # type: ignore[attr-defined]
    assert "not transcribed" in notices[0].message  # type: ignore[attr-defined]
    assert not of(RetryIn, actions)
    assert session.phase is Phase.IDLE


def test_connecting_gives_up_after_the_time_limit() -> None:
    session = DictationSession(max_connect_seconds=3.0)
    session.start()
    for _ in range(20):
        actions = session.connection_failed(Verdict.RETRY, "busy")
        if session.phase is Phase.IDLE:
            break
    assert session.phase is Phase.IDLE
    assert "gave up" in of(Notify, actions)[-1].message  # type: ignore[attr-defined]


def test_mid_stream_failure_says_words_may_be_missing() -> None:
    session = DictationSession()
    session.start()
    session.message(Ready())
    actions = session.connection_failed(Verdict.RETRY, "connection lost")
    assert not of(RetryIn, actions)  # audio already streamed cannot be sent again
    assert "may be missing" in of(Notify, actions)[0].message  # type: ignore[attr-defined]


def test_the_buffer_is_bounded_with_one_warning() -> None:
    session = DictationSession(max_buffer_seconds=0.001)  # 24 samples = 96 bytes
    session.start()
    warnings = []
    for _ in range(10):
        warnings += session.audio(b"\x00" * 40)
    assert len(of(Notify, warnings)) == 1
    sent = of(SendAudio, session.message(Ready()))
    assert sum(len(a.pcm) for a in sent) == 80  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("leading_space", "expected"),
    [
        (False, ["Hello,", " world.", " É", " again"]),
        (True, [" Hello,", " world.", " É", " again"]),
    ],
)
def test_spacing(leading_space: bool, expected: list[str]) -> None:
    """The first word loses its space unless asked; a blank token types nothing; a word
    without a space (the original service's) gets one."""
    session = DictationSession(leading_space=leading_space)
    session.start()
    session.message(Ready())
    actions = [
        a
        for t in (" Hello,", " world.", "  ", " É", "again")
        for a in session.message(Token(t, 0.0))
    ]
    assert [a.text for a in of(TypeText, actions)] == expected  # type: ignore[attr-defined]


def test_backoff_grows_to_the_cap_with_jitter() -> None:
    delays = backoff(first=1.0, factor=2.0, cap=5.0, jitter=0.1)
    values = [next(delays) for _ in range(6)]
    assert 0.9 <= values[0] <= 1.1
    assert 1.8 <= values[1] <= 2.2
    assert all(4.5 <= v <= 5.5 for v in values[3:])


@pytest.mark.parametrize(
    ("verdict", "expected"),
    [
        (classify_error(ErrorCode.BUSY), Verdict.RETRY),
        (classify_error(ErrorCode.BACKEND_UNAVAILABLE), Verdict.RETRY),
        (classify_error(ErrorCode.UNAUTHORIZED), Verdict.FATAL),
        (classify_error(ErrorCode.BAD_AUDIO), Verdict.FATAL),
        (classify_http_status(401), Verdict.FATAL),
        (classify_http_status(404), Verdict.FATAL),
        (classify_http_status(502), Verdict.RETRY),
        (classify_close(None), Verdict.RETRY),
        (classify_close(1013), Verdict.RETRY),
        (classify_close(1008), Verdict.FATAL),
    ],
)
def test_error_classification(verdict: Verdict, expected: Verdict) -> None:
    assert verdict is expected


def test_audio_of_a_dictation_started_while_the_last_one_drains_is_kept() -> None:
    session = DictationSession()
    session.start()
    session.message(Ready())
    session.stop()  # draining
    session.start()  # the user presses again before the last words came
    assert session.audio(b"next") == []
    session.stop()  # and releases, still before the previous end
    assert session.audio(b"late") == []
    after = session.message(End())
    assert Connect() in after
    ready = session.message(Ready())
    assert of(SendAudio, ready) == [SendAudio(b"next")]
    assert SendEnd() in ready
    assert session.phase is Phase.DRAINING


def test_stop_before_ready_then_restart_while_draining_keeps_the_new_audio() -> None:
    session = DictationSession()
    session.start()
    session.stop()  # released before the backend was ready
    session.message(Ready())  # buffered audio and end go out: draining
    session.start()
    session.audio(b"more")
    session.message(End())
    assert of(SendAudio, session.message(Ready())) == [SendAudio(b"more")]
    assert session.phase is Phase.STREAMING


def test_the_connect_limit_counts_the_time_attempts_take_not_only_the_pauses() -> None:
    now = [0.0]
    session = DictationSession(max_connect_seconds=120.0, clock=lambda: now[0])
    session.start()
    attempts = 0
    while session.phase is Phase.CONNECTING:
        now[0] += 30.0  # each attempt times out after 30 s
        attempts += 1
        for action in session.connection_failed(Verdict.RETRY, "timed out"):
            if isinstance(action, RetryIn):
                now[0] += action.seconds
    assert attempts == 4


def test_a_press_after_release_while_connecting_continues_the_same_dictation() -> None:
    session = DictationSession()
    session.start()
    session.audio(b"one")
    session.stop()  # released while the backend is still starting
    assert session.audio(b"lost") == []
    assert session.start() == []  # pressed again: same dictation, audio kept again
    session.audio(b"two")
    session.stop()
    ready = session.message(Ready())
    assert of(SendAudio, ready) == [SendAudio(b"onetwo")]
    assert SendEnd() in ready


def test_a_third_press_while_draining_keeps_its_audio() -> None:
    session = DictationSession()
    session.start()
    session.message(Ready())
    session.stop()  # draining
    session.start()
    session.audio(b"a")
    session.stop()
    session.start()  # pressed once more before the first dictation ended
    session.audio(b"b")
    session.message(End())
    assert of(SendAudio, session.message(Ready())) == [SendAudio(b"ab")]
    assert session.phase is Phase.STREAMING


def test_cancel_gives_up_a_released_dictation_still_waiting_for_the_backend() -> None:
    session = DictationSession()
    session.start()
    assert session.cancel() == []  # still capturing: nothing to cancel
    session.stop()
    assert session.waiting_after_release
    actions = session.cancel()
    assert Disconnect() in actions
    assert "not transcribed" in of(Notify, actions)[0].message  # type: ignore[attr-defined]
    assert session.phase is Phase.IDLE
