"""The replacement rules' file formats (app/core/word_rules.py)."""

from __future__ import annotations

import pytest

from app.core.voice_edits import Rule
from app.core.word_rules import (
    RulesError,
    format_csv,
    format_plain,
    merged,
    parse_csv,
    parse_plain,
    without,
)

RULES = [Rule("pie torch", "PyTorch"), Rule("my email", "a, b <c@d.org>")]


def test_plain_and_csv_round_trip() -> None:
    assert parse_plain(format_plain(RULES)) == RULES
    assert parse_csv(format_csv(RULES)) == RULES


def test_plain_ignores_comments_and_blank_lines() -> None:
    assert parse_plain("# mine\n\n  kyutai ->  Kyutai \n") == [Rule("kyutai", "Kyutai")]


@pytest.mark.parametrize(
    ("text", "message"),
    [("ok -> OK\nno arrow\n", "line 2"), (" -> X\n", "line 1"), ("a ->  \n", "empty")],
)
def test_plain_errors_name_the_line(text: str, message: str) -> None:
    with pytest.raises(RulesError, match=message):
        parse_plain(text)


def test_csv_needs_two_columns() -> None:
    with pytest.raises(RulesError, match="row 2"):
        parse_csv("a,b\nc\n")


def test_merge_replaces_the_same_phrase_any_case_and_remove() -> None:
    rules = merged(RULES, [Rule("Pie  Torch", "torch")])
    assert rules == [RULES[1], Rule("Pie  Torch", "torch")]
    assert without(rules, "MY EMAIL") == [Rule("Pie  Torch", "torch")]
