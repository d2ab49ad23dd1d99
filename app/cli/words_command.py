"""``kyutai-dictate words``: list, add, remove, import and export the replacement rules
(``words.txt`` beside the settings file; ``--config`` names another settings file)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from app.core.errors import AppError
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


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", type=Path, help="settings file (default: the user's)")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    actions.add_parser("list", help="print the rules, one 'spoken -> text' a line")
    add = actions.add_parser("add", help="add a rule (replacing one with the same phrase)")
    add.add_argument("spoken", help="the spoken phrase, e.g. 'pie torch'")
    add.add_argument("text", help="the text to type, e.g. PyTorch")
    remove = actions.add_parser("remove", help="remove the rule for a spoken phrase")
    remove.add_argument("spoken")
    for name, verb in (("import", "add the rules of"), ("export", "write the rules to")):
        action = actions.add_parser(name, help=f"{verb} a CSV (.csv) or plain text file")
        action.add_argument("file", type=Path)


def _is_csv(path: Path) -> bool:
    return path.suffix.lower() == ".csv"


def run(args: argparse.Namespace) -> int:
    from app.desktop import words_store

    path = words_store.default_path(args.config)
    try:
        rules = words_store.load(path)
        match args.action:
            case "list":
                sys.stdout.write(format_plain(rules))
            case "add":
                words_store.save(merged(rules, [_new_rule(args.spoken, args.text)]), path)
            case "remove":
                kept = without(rules, args.spoken)
                if len(kept) == len(rules):
                    raise AppError(f"no rule for {args.spoken!r} in {path}")
                words_store.save(kept, path)
            case "import":
                added = _read(args.file)
                words_store.save(merged(rules, added), path)
                print(f"imported {len(added)} rules into {path}", file=sys.stderr)
            case "export":
                text = format_csv(rules) if _is_csv(args.file) else format_plain(rules)
                args.file.write_text(text, encoding="utf-8")
    except RulesError as exc:
        raise AppError(str(exc)) from None
    except OSError as exc:
        raise AppError(f"{exc.filename}: {exc.strerror}") from None
    return 0


def _new_rule(spoken: str, text: str) -> Rule:
    if "->" in spoken or "\n" in spoken or "\n" in text:
        raise AppError("a phrase has no '->' or line break (the rules file could not hold it)")
    try:
        return Rule(spoken.strip(), text.strip())
    except ValueError as exc:
        raise AppError(str(exc)) from None


def _read(file: Path) -> list[Rule]:
    text = file.read_text(encoding="utf-8")
    try:
        return parse_csv(text) if _is_csv(file) else parse_plain(text)
    except RulesError as exc:
        raise RulesError(f"{file}: {exc}") from None
