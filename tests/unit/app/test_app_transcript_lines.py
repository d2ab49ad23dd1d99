"""Terminal transcript: words on a line, a line per utterance."""

from __future__ import annotations

from app.cli.transcript_lines import TranscriptLines


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
