"""The replacement rules file, ``words.txt`` beside the settings file (plain text, editable by
hand; format in app/core/word_rules.py)."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from app.core.voice_edits import Rule
from app.core.word_rules import RulesError, format_plain, parse_plain
from app.desktop import settings_store
from app.desktop.atomic_file import write_atomically

FILE_NAME = "words.txt"
HEADER = "# Your own words: one rule a line, 'spoken phrase -> text' (kyutai-dictate words).\n"


def default_path(settings_path: Path | None = None) -> Path:
    return (settings_path or settings_store.default_path()).parent / FILE_NAME


def load(path: Path | None = None) -> list[Rule]:
    """The rules, or none when there is no file yet."""
    path = path or default_path()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    except OSError as exc:
        raise RulesError(f"cannot read {path}: {exc.strerror}") from None
    try:
        return parse_plain(text)
    except RulesError as exc:
        raise RulesError(f"{path}: {exc}") from None


def save(rules: Iterable[Rule], path: Path | None = None) -> Path:
    path = path or default_path()
    write_atomically(path, HEADER + format_plain(rules))
    return path
