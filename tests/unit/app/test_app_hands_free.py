"""Hands-free mode ends a dictation on the model's end of speech plus silence, never in a
pause inside a sentence, and has a timer for models without pause prediction."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from app.core.hands_free import WORDLESS_SAFETY, AutoStop, EndReason


def test_speech_then_silence_ends_after_vad_end_and_the_silence() -> None:
    stop = AutoStop(started=0.0, silence=1.0)
    for t in (0.5, 0.8, 1.1):
        stop.word(t)
    stop.vad_end(3.0)
    assert stop.ended(3.9) is None
    assert stop.ended(4.0) is EndReason.SPEECH_ENDED


def test_a_word_after_vad_end_keeps_it_going() -> None:
    stop = AutoStop(started=0.0, silence=1.0)
    stop.word(0.5)
    stop.vad_end(2.5)
    stop.word(3.2)  # the speaker went on
    assert stop.ended(3.6) is None
    assert stop.due == (3.2 + WORDLESS_SAFETY, EndReason.NO_WORDS)


def test_a_pause_inside_a_sentence_without_vad_end_does_not_end_it() -> None:
    stop = AutoStop(started=0.0)
    stop.word(0.5)
    assert stop.ended(0.5 + 5.0) is None  # 5 s of thinking: the model predicted no end


def test_without_pause_prediction_a_timer_on_words_ends_it() -> None:
    stop = AutoStop(started=0.0, has_vad=False, wordless=3.0)
    stop.word(1.0)
    assert stop.ended(3.9) is None
    assert stop.ended(4.0) is EndReason.NO_WORDS


def test_nothing_said_ends_it_and_a_vad_end_before_any_word_is_ignored() -> None:
    stop = AutoStop(started=10.0, first_word=8.0)
    stop.vad_end(11.0)
    assert stop.ended(17.9) is None
    assert stop.ended(18.0) is EndReason.NOTHING_SAID


@given(st.lists(st.floats(0.0, 0.9), min_size=1, max_size=50), st.floats(0.1, 2.0))
def test_speech_with_short_gaps_never_ends_early(gaps: list[float], silence: float) -> None:
    """Words every < 1 s and vad_ends between them: it never ends before the last word."""
    stop = AutoStop(started=0.0, silence=max(silence, 1.0))
    now = 0.0
    for index, gap in enumerate(gaps):
        now += gap
        assert stop.ended(now) is None
        stop.word(now)
        if index % 3 == 2:
            stop.vad_end(now + gap / 2)
    assert stop.due[0] > now
