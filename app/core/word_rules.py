"""The replacement rules' file formats (pure): plain text ``spoken -> text`` lines, and CSV.

Plain text: one rule a line, ``spoken phrase -> text``; blank lines and lines starting with
``#`` are ignored. CSV: two columns, spoken phrase and text (a header row ``spoken,text`` is
allowed).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence

from app.core.voice_edits import Rule, normalize

ARROW = " -> "


class RulesError(ValueError):
    """A rules file that cannot be read; names the line."""


def _rule(spoken: str, text: str, where: str) -> Rule:
    if not text.strip():
        raise RulesError(f"{where}: the text to type is empty")
    try:
        return Rule(spoken.strip(), text.strip())
    except ValueError as exc:
        raise RulesError(f"{where}: {exc}") from None


def parse_plain(text: str) -> list[Rule]:
    rules = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        spoken, arrow, replacement = line.partition(ARROW.strip())
        if not arrow:
            raise RulesError(f"line {number}: expected 'spoken phrase -> text', got {line!r}")
        rules.append(_rule(spoken, replacement, f"line {number}"))
    return rules


def format_plain(rules: Iterable[Rule]) -> str:
    return "".join(f"{rule.spoken}{ARROW}{rule.text}\n" for rule in rules)


def parse_csv(text: str) -> list[Rule]:
    rules = []
    for number, row in enumerate(csv.reader(io.StringIO(text)), 1):
        if not row or not "".join(row).strip():
            continue
        if number == 1 and [c.strip().lower() for c in row] == ["spoken", "text"]:
            continue
        if len(row) != 2:
            raise RulesError(f"row {number}: expected 2 columns (spoken, text), got {len(row)}")
        rules.append(_rule(row[0], row[1], f"row {number}"))
    return rules


def format_csv(rules: Iterable[Rule]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["spoken", "text"])
    writer.writerows([rule.spoken, rule.text] for rule in rules)
    return out.getvalue()


def merged(rules: Sequence[Rule], added: Iterable[Rule]) -> list[Rule]:
    """``rules`` with ``added``, an added rule replacing one with the same spoken phrase."""
    result = list(rules)
    for rule in added:
        result = [r for r in result if normalize(r.spoken) != normalize(rule.spoken)]
        result.append(rule)
    return result


def without(rules: Sequence[Rule], spoken: str) -> list[Rule]:
    return [r for r in rules if normalize(r.spoken) != normalize(spoken)]
