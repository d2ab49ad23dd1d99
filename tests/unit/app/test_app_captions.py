"""The captions show commands as labelled marks, and a scratch removes the scratched words."""

from __future__ import annotations

from app.core.captions import MAX_CHARS, Captions, Part
from app.core.voice_edits import VoiceEditConfig, transform_offline


def caption_of(words: list[tuple[str, float]]) -> Captions:
    captions = Captions()
    for edit in transform_offline(words, VoiceEditConfig()):
        captions.apply(edit)
    return captions


def test_a_command_shows_as_its_label_not_its_words() -> None:
    captions = caption_of([(" hello", 0.0), (" new", 1.0), (" line", 1.2), (" world", 2.0)])
    assert captions.parts == [Part("hello"), Part("⏎ new line", True), Part("world")]


def test_new_paragraph_shows_one_label() -> None:
    captions = caption_of([(" a.", 0.0), (" new", 1.0), (" paragraph", 1.2), (" b", 2.0)])
    assert captions.parts == [Part("a."), Part("¶ new paragraph", True), Part("b")]


def test_scratch_that_removes_the_scratched_words_and_says_so() -> None:
    words = [(" first.", 0.0), (" second", 0.5), (" scratch", 1.5), (" that", 1.7), (" third", 2.5)]
    assert caption_of(words).plain == "first. [⌫ scratch that]  third"


def test_a_long_dictation_keeps_its_end() -> None:
    captions = Captions()
    for edit in transform_offline([(f" w{i}", i * 0.1) for i in range(400)], VoiceEditConfig()):
        captions.apply(edit)
    assert len(captions.plain) == MAX_CHARS
    assert captions.plain.endswith(" w399")
