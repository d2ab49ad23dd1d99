"""Voice commands and replacements as a streaming transform (app/core/voice_edits.py)."""

from __future__ import annotations

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from app.core.voice_edits import (
    DeleteEdit,
    Edit,
    Key,
    PressEdit,
    Rule,
    StopEdit,
    TypeEdit,
    VoiceEditConfig,
    VoiceEdits,
    apply_edits,
    transform_offline,
)

GAP = 0.3  # between words spoken without a pause
PAUSE = 1.0  # a pause (over the 0.6 s window)


def timed(*phrases: str) -> list[tuple[str, float]]:
    """Words with starts: words inside a phrase ``GAP`` apart, phrases ``PAUSE`` apart."""
    words, t = [], 0.0
    for i, phrase in enumerate(phrases):
        if i:
            t += PAUSE - GAP
        for word in phrase.split():
            words.append((f" {word}", t))
            t += GAP
    return words


def text(words: list[tuple[str, float]], config: VoiceEditConfig | None = None) -> str:
    return apply_edits("", transform_offline(words, config or VoiceEditConfig()))


def test_new_line_with_pauses_breaks_the_line() -> None:
    assert text(timed("hello", "new line", "world")) == "hello\nworld"


def test_new_line_inside_a_sentence_is_typed_as_words() -> None:
    assert text(timed("a new line of products")) == "a new line of products"


def test_command_matches_ignoring_case_and_punctuation() -> None:
    assert text(timed("Hello.", "New line.", "World")) == "Hello.\nWorld"


def test_command_after_a_sentence_end_without_a_pause() -> None:
    assert text(timed("Hello. new line")) == "Hello.\n"


def test_scratch_that_removes_the_words_since_the_sentence_end() -> None:
    words = timed("first sentence. second sentence", "scratch that", "third")
    assert text(words) == "first sentence. third"


def test_scratch_that_at_the_start_leaves_no_leading_space() -> None:
    assert text(timed("oops wrong", "delete that", "right")) == "right"


def test_scratch_that_never_deletes_past_a_pressed_key() -> None:
    assert text(timed("send this", "press enter", "scratch that", "more")) == "send this\nmore"


def test_scratch_that_right_after_a_sentence_end_removes_that_sentence() -> None:
    assert text(timed("One. Two.", "scratch that")) == "One."


def test_new_line_with_shift_return_and_press_enter() -> None:
    config = VoiceEditConfig(newline_key=Key.SHIFT_RETURN)
    edits = transform_offline(timed("a", "new line", "b", "press enter"), config)
    keys = [e.key for e in edits if isinstance(e, PressEdit)]
    assert keys == [Key.SHIFT_RETURN, Key.RETURN]
    assert edits[1] == PressEdit(Key.SHIFT_RETURN, "⏎ new line")


def test_new_paragraph_and_tab() -> None:
    assert text(timed("a", "new paragraph", "b", "press tab", "c")) == "a\n\nb\tc"


def test_stop_dictation_stops_and_drops_later_words() -> None:
    transform = VoiceEdits()
    edits: list[Edit] = []
    for word, start in timed("hello", "stop dictation", "more"):
        edits += transform.word(word, start)
    edits += transform.finish()
    assert edits[-1] == StopEdit()
    assert apply_edits("", edits) == "hello"
    assert transform.dropped == 1


def test_french_commands() -> None:
    words = timed("Bonjour", "à la ligne", "le monde", "efface ça", "Salut", "nouveau paragraphe")
    assert text(words) == "Bonjour\nSalut\n\n"
    assert text(timed("oui", "appuie sur entrée", "non")) == "oui\nnon"


def test_commands_off_types_them() -> None:
    config = VoiceEditConfig(commands=False)
    assert text(timed("hello", "new line", "world"), config) == "hello new line world"


def test_two_word_replacement_keeps_the_punctuation_of_the_last_word() -> None:
    config = VoiceEditConfig(rules=[Rule("pie torch", "PyTorch"), Rule("kyutai", "Kyutai")])
    words = timed("I use Pie torch, with kyutai.")
    assert text(words, config) == "I use PyTorch, with Kyutai."


def test_replacement_whole_words_only() -> None:
    config = VoiceEditConfig(rules=[Rule("pie torch", "PyTorch")])
    assert text(timed("pie torches pie"), config) == "pie torches pie"


def test_a_word_that_cannot_begin_anything_is_not_held() -> None:
    transform = VoiceEdits(VoiceEditConfig(rules=[Rule("pie torch", "PyTorch")]))
    assert transform.word(" hello", 0.0) == [TypeEdit("hello")]
    assert transform.word(" pie", 0.3) == []
    assert transform.held == 1
    assert transform.word(" chart", 0.6) == [TypeEdit(" pie"), TypeEdit(" chart")]


def test_a_tick_past_the_pause_window_releases_a_held_word() -> None:
    transform = VoiceEdits()
    assert transform.word(" new", 0.0) == []
    assert transform.tick(0.5) == []
    assert transform.tick(0.6) == [TypeEdit("new")]


def test_a_tick_ends_a_command_phrase() -> None:
    transform = VoiceEdits()
    transform.word(" hello", 0.0)
    assert transform.word(" new", 1.0) == []
    assert transform.word(" line", 1.3) == []
    assert transform.tick(2.0) == [PressEdit(Key.RETURN, "⏎ new line")]


def test_vad_end_releases_held_words() -> None:
    transform = VoiceEdits()
    transform.word(" scratch", 0.0)
    assert transform.vad_end() == [TypeEdit("scratch")]
    assert transform.held == 0


def test_rule_needs_a_word() -> None:
    with pytest.raises(ValueError, match="spoken phrase"):
        Rule(" ,. ", "x")


# -- properties ----------------------------------------------------------------------------

CORE = ["new", "line", "scratch", "that", "pie", "torch", "b.", "Pie,", "x", "Line."]
MORE = ["press", "enter", "tab", "paragraph", "stop", "dictation", "à", "la", "ligne", "ça"]
VOCAB = CORE + MORE
WORDS = st.one_of(st.sampled_from(CORE), st.sampled_from(VOCAB))
PHRASES = st.lists(WORDS, min_size=1, max_size=3).map(" ".join)
RULES = st.lists(st.builds(Rule, PHRASES, st.sampled_from(["P", "Q R", "Z."])), max_size=4)
GAPS = st.sampled_from([0.0, 0.2, 0.59, 0.6, 1.0, 2.5])
STREAM = st.lists(
    st.tuples(WORDS, GAPS, st.booleans(), st.lists(st.floats(0, 1), max_size=2)),
    max_size=8,
)


def _events(stream: list[tuple[str, float, bool, list[float]]]) -> tuple[list, list, list[int]]:
    """Words with starts, the streamed events (with ticks keeping their promise) and the
    indexes of words followed by ``vad_end``."""
    words, events, vads, t = [], [], [], 0.0
    for index, (word, gap, vad, ticks) in enumerate(stream):
        t += gap
        words.append((f" {word}", t))
        events.append(("word", f" {word}", t))
        if vad:
            events.append(("vad",))
            vads.append(index)
        next_start = t + (stream[index + 1][1] if index + 1 < len(stream) else 3.0)
        for fraction in sorted(ticks):
            events.append(("tick", t + fraction * (next_start - t)))
    return words, events, vads


def _stream(config: VoiceEditConfig, events: list) -> tuple[list[Edit], VoiceEdits]:
    transform = VoiceEdits(config)
    edits: list[Edit] = []
    for event in events:
        match event:
            case ("word", word, start):
                edits += transform.word(word, start)
            case ("vad",):
                edits += transform.vad_end()
            case ("tick", now):
                edits += transform.tick(now)
    edits += transform.finish()
    return edits, transform


@settings(max_examples=500, deadline=None)
@given(RULES, STREAM, st.booleans(), st.booleans())
@example([], [("new", 0.0, False, [0.9]), ("line", 0.59, False, [])], True, False)
@example(
    [Rule("pie torch", "P")], [("pie", 0.0, False, [0.5]), ("torch", 0.59, False, [])], False, False
)
def test_streamed_edits_equal_the_offline_transform(rules, stream, commands, space) -> None:
    config = VoiceEditConfig(commands=commands, rules=rules, leading_space=space)
    words, events, vads = _events(stream)
    edits, transform = _stream(config, events)
    assert apply_edits("", edits) == apply_edits("", transform_offline(words, config, vads))
    assert transform.held == 0  # every held word released by the end
    assert transform.consumed + transform.dropped == len(words)  # none lost or doubled
    assert all(e.count > 0 for e in edits if isinstance(e, DeleteEdit))


@settings(max_examples=200, deadline=None)
@given(STREAM)
def test_without_commands_or_rules_every_word_is_typed_in_order(stream) -> None:
    words, events, _ = _events(stream)
    edits, _ = _stream(VoiceEditConfig(commands=False), events)
    assert apply_edits("", edits) == "".join(w for w, _ in words).lstrip(" ")


@settings(max_examples=200, deadline=None)
@given(RULES, STREAM)
def test_deletes_never_reach_text_typed_before_the_dictation(rules, stream) -> None:
    _, events, _ = _events(stream)
    edits, _ = _stream(VoiceEditConfig(rules=rules), events)
    typed = 0
    for edit in edits:
        if isinstance(edit, TypeEdit):
            typed += len(edit.text)
        elif isinstance(edit, PressEdit):
            typed = 0  # nothing before a pressed key is deleted
        elif isinstance(edit, DeleteEdit):
            assert edit.count <= typed
            typed -= edit.count
