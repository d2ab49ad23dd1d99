"""Terminal transcript: words on a line, a line per utterance."""

from __future__ import annotations

from app.cli.transcript_lines import REPRINT, TranscriptLines
from app.core.voice_edits import Rule, VoiceEditConfig, VoiceEdits


def render(events: list[str]) -> str:
    lines = TranscriptLines()
    out = []
    for event in events:
        if event == "<vad>":
            out.append(lines.vad_end())
        else:
            out.append(lines.token(event))
    out.append(lines.finish())
    return "".join(out)


def test_leading_space_dropped_at_line_start_only() -> None:
    assert render([" Hello", " world", "<vad>", " How", " are", " you?"]) == (
        "Hello world\nHow are you?\n"
    )


def test_vad_end_without_words_prints_nothing() -> None:
    assert render(["<vad>", "<vad>"]) == ""


def test_double_vad_end_gives_one_newline() -> None:
    assert render([" one", "<vad>", "<vad>", " two"]) == "one\ntwo\n"


def test_final_newline_only_after_words() -> None:
    assert render([" done", "<vad>"]) == "done\n"
    assert render([]) == ""


def test_tokens_without_space_are_kept_whole() -> None:
    assert render([" l'", "homme", ","]) == "l'homme,\n"


# -- with voice edits ----------------------------------------------------------------------


def terminal(printed: str) -> str:
    """What a terminal shows: a reprint erases its line."""
    return "\n".join(line.rsplit(REPRINT, 1)[-1] for line in printed.split("\n"))


def render_edits(events: list[tuple[str, float] | str], config: VoiceEditConfig) -> str:
    lines = TranscriptLines(VoiceEdits(config))
    out = []
    for event in events:
        if event == "<vad>":
            out.append(lines.vad_end())
        else:
            assert isinstance(event, tuple)
            out.append(lines.token(*event))
    out.append(lines.finish())
    return "".join(out)


CLI = VoiceEditConfig(add_missing_space=False)


def test_new_line_starts_a_new_line() -> None:
    events: list = [(" hello", 0.0), (" new", 1.0), (" line", 1.3), (" world", 2.3)]
    assert render_edits(events, CLI) == "hello\nworld\n"


def test_scratch_that_reprints_the_line_without_the_scratched_words() -> None:
    words = ["first", "sentence.", "second", "sentence"]
    events: list = [(f" {w}", 0.3 * i) for i, w in enumerate(words)]
    events += [(" scratch", 2.0), (" that", 2.3), (" third", 3.3)]
    printed = render_edits(events, CLI)
    assert REPRINT in printed
    assert terminal(printed) == "first sentence. third\n"


def test_tokens_without_space_are_kept_whole_with_edits() -> None:
    events: list = [(" l'", 0.0), ("homme", 0.1), (",", 0.2)]
    assert render_edits(events, CLI) == "l'homme,\n"


def test_replacement_in_the_terminal() -> None:
    config = VoiceEditConfig(rules=[Rule("pie torch", "PyTorch")], add_missing_space=False)
    assert render_edits([(" pie", 0.0), (" torch.", 0.3)], config) == "PyTorch.\n"


def test_stop_dictation_is_reported() -> None:
    lines = TranscriptLines(VoiceEdits(CLI))
    lines.token(" stop", 0.0)
    lines.token(" dictation", 0.3)
    assert not lines.stop_requested
    lines.vad_end()
    assert lines.stop_requested
