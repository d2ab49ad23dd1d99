"""``kyutai-dictate history``: print the dictation history (``--json`` too); ``history retry
N`` transcribes entry N again with the backend configured now, stores and prints the text
(it types nothing)."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from app.core.errors import UsageError
from app.core.history import HistoryEntry

if TYPE_CHECKING:
    from app.desktop.history_store import HistoryStore


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print one JSON list instead")
    parser.add_argument(
        "--config", type=Path, help="settings file whose backend 'retry' uses (default: the user's)"
    )
    parser.add_argument(
        "action", nargs="?", choices=("retry",), help="retry N: transcribe entry N again"
    )
    parser.add_argument("number", nargs="?", type=int, help="the entry's number (see the list)")


def run(args: argparse.Namespace, out: TextIO | None = None) -> int:
    from app.desktop.history_store import HistoryStore  # sqlite and numpy: for this command only

    out = out or sys.stdout
    if args.action == "retry" and args.number is None:
        raise UsageError("which entry? kyutai-dictate history retry N (N from the list)")
    store = HistoryStore()
    try:
        if args.action == "retry":
            entry = asyncio.run(_retry(store, args.number, args.config))
            print(json.dumps(_as_json(entry)) if args.json else entry.shown_text, file=out)
        elif args.json:
            print(json.dumps([_as_json(entry) for entry in store.entries()], indent=1), file=out)
        else:
            for entry in store.entries():
                print(_line(entry), file=out)
    finally:
        store.close()
    return 0


def _line(entry: HistoryEntry) -> str:
    when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(entry.time))
    outcome = entry.outcome.value + (", transcribed again" if entry.retry_text is not None else "")
    audio = "audio" if entry.has_audio else "no audio"
    window = f" [{entry.window}]" if entry.window else ""
    return f"{entry.id:>4}  {when}  {outcome} ({audio}){window}: {entry.shown_text}"


def _as_json(entry: HistoryEntry) -> dict[str, object]:
    data = asdict(entry)
    data["outcome"] = entry.outcome.value
    data["has_audio"] = entry.has_audio
    return data


async def _retry(store: HistoryStore, number: int, config: Path | None) -> HistoryEntry:
    from app.backend.connect import stream_connector
    from app.backend.transcribe_audio import transcribe_samples
    from app.core.credentials import secret_lookup
    from app.core.endpoint import endpoint_for
    from app.desktop import secret_store, settings_store

    entry = store.get(number)
    samples = store.audio(number)
    if samples is None:
        raise UsageError(f"dictation {entry.id} has no audio kept: it cannot be transcribed again")
    backend = settings_store.load(config).backend
    if not backend.configured:
        raise UsageError("no backend configured: run kyutai-dictate and open Settings")
    endpoint = endpoint_for(backend, secret_lookup(dict(os.environ), secret_store.load))
    text = await transcribe_samples(stream_connector(backend), endpoint, samples)
    store.set_retry_text(number, text)
    return store.get(number)
