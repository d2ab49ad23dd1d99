"""Voice commands and replacements inside the dictation session: what it types, deletes and
presses, when a held word is released (word, tick, ``vad_end``, end, failure)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from app.core.reconnect import Verdict
from app.core.session import (
    TICK_MARGIN,
    Action,
    DictationSession,
    Disconnect,
    Notify,
    TypeText,
)
from app.core.voice_edits import (
    DeleteEdit,
    Edit,
    Key,
    PressEdit,
    Rule,
    StopEdit,
    TypeEdit,
    VoiceEditConfig,
    apply_edits,
    transform_offline,
)
from server.protocol.stream import End, Ready, Token, VadEnd

ON = VoiceEditConfig()  # commands on, no rules


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def streaming(config: VoiceEditConfig = ON, clock: Clock | None = None) -> DictationSession:
    session = DictationSession(voice=config, clock=clock or Clock())
    session.start()
    session.message(Ready())
    return session


def edits_of(actions: list[Action]) -> list[Edit]:
    """The actions that reach the window, as the voice edits they are."""
    found: list[Edit] = []
    for action in actions:
        if isinstance(action, TypeText):
            found.append(TypeEdit(action.text))
        elif isinstance(action, DeleteEdit | PressEdit | StopEdit):
            found.append(action)
    return found


def say(session: DictationSession, *words: tuple[str, float]) -> list[Action]:
    actions: list[Action] = []
    for text, start in words:
        actions += session.message(Token(text, start))
    return actions


def test_new_line_spoken_apart_presses_return() -> None:
    session = streaming()
    actions = say(session, (" hello", 0.0), (" new", 1.0), (" line", 1.2), (" world", 2.0))
    actions += session.stop() + session.message(End())
    assert apply_edits("", edits_of(actions)) == "hello\nworld"
    assert PressEdit(Key.RETURN, "⏎ new line") in actions


def test_new_line_inside_a_sentence_is_typed_as_words() -> None:
    session = streaming()
    words = [(" a", 0.0), (" new", 0.2), (" line", 0.4), (" of", 0.6), (" products", 0.8)]
    actions = say(session, *words) + session.stop() + session.message(End())
    assert apply_edits("", edits_of(actions)) == "a new line of products"


def test_scratch_that_deletes_back_to_the_sentence_end() -> None:
    session = streaming()
    actions = say(
        session,
        (" first", 0.0),
        (" sentence.", 0.3),
        (" second", 0.6),
        (" sentence", 0.9),
        (" scratch", 1.8),
        (" that", 2.0),
        (" third", 2.8),
    )
    actions += session.stop() + session.message(End())
    assert apply_edits("", edits_of(actions)) == "first sentence. third"
    assert DeleteEdit(len(" second sentence")) in actions


def test_a_word_that_may_begin_a_command_is_held_until_a_tick_past_the_pause() -> None:
    clock = Clock()
    session = streaming(clock=clock)
    assert edits_of(say(session, (" hello", 0.0))) == [TypeEdit("hello")]
    clock.now += 0.1
    assert say(session, (" new", 1.0)) == []  # it may be "new line"
    assert session.tick_due == clock.now + ON.pause_seconds + TICK_MARGIN
    clock.now += ON.pause_seconds  # no word for a pause, but not past the margin yet
    assert session.tick() == []
    clock.now += TICK_MARGIN
    assert edits_of(session.tick()) == [TypeEdit(" new")]
    assert session.tick_due is None


def test_a_tick_at_its_due_time_releases_whatever_the_rounding() -> None:
    """Found by the delay benchmark: the audio time of the tick fell a hair short of the
    pause after the word, and the command waited for the next word."""
    clock = Clock()
    clock.now = 1659.6896615659755
    session = streaming(clock=clock)
    say(session, (" hello.", 1658.0), (" scratch", 1658.7815537935699))
    say(session, (" that", 1659.1896615659755))
    assert session.tick_due is not None
    clock.now = session.tick_due
    # Nothing came since the sentence end: the sentence before it goes.
    assert session.tick() == [DeleteEdit(len("hello."))]
    assert session.tick_due is None


def test_vad_end_releases_a_held_word() -> None:
    session = streaming()
    say(session, (" hello", 0.0), (" new", 0.2))
    assert edits_of(session.message(VadEnd())) == [TypeEdit(" new")]


def test_the_end_releases_held_words_before_the_connection_closes() -> None:
    session = streaming()
    say(session, (" hello", 0.0), (" new", 0.2))
    actions = session.stop() + session.message(End())
    assert edits_of(actions) == [TypeEdit(" new")]
    assert actions.index(TypeText(" new")) < actions.index(Disconnect())


def test_a_failure_still_types_the_held_words_then_says_so() -> None:
    session = streaming()
    say(session, (" hello", 0.0), (" new", 0.2))
    actions = session.connection_failed(Verdict.FATAL, "connection lost")
    assert edits_of(actions) == [TypeEdit(" new")]
    assert isinstance(actions[-2], Notify)


def test_stop_dictation_asks_to_stop_and_drops_later_words() -> None:
    session = streaming()
    actions = say(session, (" done.", 0.0), (" stop", 1.0), (" dictation", 1.2), (" oops", 2.0))
    assert edits_of(actions) == [TypeEdit("done."), StopEdit()]


def test_words_without_start_times_still_pause_by_their_arrival() -> None:
    """The original service sends no ``start``: a word's arrival stands in for it."""
    clock = Clock()
    session = streaming(clock=clock)
    actions = say(session, ("hello", None))  # type: ignore[arg-type]
    clock.now += 1.0
    actions += say(session, ("new", None), ("line", None))  # type: ignore[arg-type]
    clock.now += 1.0
    actions += say(session, ("world", None))  # type: ignore[arg-type]
    actions += session.stop() + session.message(End())
    assert apply_edits("", edits_of(actions)) == "hello\nworld"


def test_replacements_apply_with_commands_off() -> None:
    config = VoiceEditConfig(commands=False, rules=(Rule("pie torch", "PyTorch"),))
    session = streaming(config)
    actions = say(session, (" I", 0.0), (" like", 0.2), (" pie", 0.4), (" torch.", 0.6))
    actions += say(session, (" new", 1.5), (" line", 1.7))
    actions += session.stop() + session.message(End())
    assert apply_edits("", edits_of(actions)) == "I like PyTorch. new line"


def test_the_default_session_types_words_as_spoken() -> None:
    session = DictationSession()
    session.start()
    session.message(Ready())
    actions = say(session, (" new", 0.0), (" line", 0.2)) + session.stop() + session.message(End())
    assert edits_of(actions) == [TypeEdit("new"), TypeEdit(" line")]


words = st.lists(
    st.tuples(
        st.sampled_from([" new", " line", " scratch", " that", " hello.", " press", " tab", " x"]),
        st.floats(0.0, 1.5),  # the wait after the word, in which the loop may tick
        st.floats(0.0, 0.5),  # then the rest of the gap to the next word
        st.booleans(),  # a vad_end after the word
    ),
    max_size=25,
)


@given(words)
def test_streamed_edits_equal_the_offline_transform(
    spoken: list[tuple[str, float, float, bool]],
) -> None:
    """Ticks only release words earlier; the text is the offline transform's, whatever the
    timing (words arrive in real time: a word's arrival moves with its ``start``)."""
    clock = Clock()
    session = streaming(clock=clock)
    actions: list[Action] = []
    timeline: list[tuple[str, float]] = []
    ends: list[int] = []
    start = 0.0
    for index, (text, wait, rest, vad) in enumerate(spoken):
        timeline.append((text, start))
        actions += session.message(Token(text, start))
        clock.now += wait
        if session.tick_due is not None and clock.now >= session.tick_due:
            actions += session.tick()
        if vad:
            ends.append(index)
            actions += session.message(VadEnd())
        clock.now += rest
        start += wait + rest
    actions += session.stop() + session.message(End())
    expected = transform_offline(timeline, ON, vad_after=ends)
    assert apply_edits("", edits_of(actions)) == apply_edits("", expected)
