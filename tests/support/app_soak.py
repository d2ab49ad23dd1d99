"""Many dictations through one run of the app, its memory, fds and threads sampled as it goes
(for the soak test and benchmarks/app_soak.py).

The desktop of tests/support/desktop.py (Xvfb, a tray host, a PulseAudio virtual microphone),
a real target window, and a scripted ``/v1/stream`` server on loopback. Each dictation: the
hotkey pressed with XTEST, held until the server has said the first word, released; the server
then sends the rest of the words and ``end``; the next dictation starts once every word is in
the window and the app is idle. Every dictation is stored in the history with its audio (the
retention limits keep the newest 50 with audio, by default), so the history is soaked too.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from app.core.settings import BackendKind, BackendSettings, HistorySettings, Settings
from app.desktop import settings_store
from app.desktop.history_store import FILE_NAME
from tests.support.desktop import Desktop, Process, desktop, running_app, target_window
from tests.support.proc import cpu_seconds, open_fds, rss_mib, threads
from tests.support.scripted_stream import ScriptedStream, scripted_stream

WORDS = [" soak", " words", " typed", " into", " the", " window."]
TEXT = "".join(WORDS).lstrip()  # what each dictation adds to the window
STEP_TIMEOUT = 30.0


@dataclass(frozen=True)
class Sample:
    dictations: int
    seconds: float
    rss_mib: float
    fds: int
    threads: int
    cpu_s: float
    history_kib: float  # the history's pages in use, the WAL's included
    rows_kib: float  # of those, the dictations table's and its index's (not the kept audio)
    wal_kib: float  # the WAL file (up to some 4 MB, reused after each checkpoint)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _kib(path: Path) -> float:
    return round(path.stat().st_size / 1024, 1) if path.exists() else 0.0


def _history_kib(history: Path) -> tuple[float, float]:
    """What the history holds now, all of it and its rows (SQLite's dbstat table); its file
    may still be waiting for the WAL's pages."""
    if not history.exists():
        return 0.0, 0.0
    with contextlib.closing(sqlite3.connect(f"{history.as_uri()}?mode=ro", uri=True)) as db:
        pages, free, size = (
            db.execute(f"PRAGMA {name}").fetchone()[0]
            for name in ("page_count", "freelist_count", "page_size")
        )
        rows = db.execute(
            "SELECT count(*) FROM dbstat WHERE name IN ('dictations', 'dictations_time')"
        ).fetchone()[0]
    return round((pages - free) * size / 1024, 1), round(rows * size / 1024, 1)


def take_sample(pid: int, history: Path, dictations: int, started: float) -> Sample:
    history_kib, rows_kib = _history_kib(history)
    return Sample(
        dictations,
        round(time.monotonic() - started, 1),
        round(rss_mib(pid), 2),
        open_fds(pid),
        threads(pid),
        round(cpu_seconds(pid), 2),
        history_kib,
        rows_kib,
        _kib(history.with_name(history.name + "-wal")),
    )


def window_text(typed: Path) -> str:
    return typed.read_text() if typed.exists() else ""


async def _until(condition: Callable[[], bool], what: str, app: Process) -> None:
    deadline = time.monotonic() + STEP_TIMEOUT
    while not condition():
        if time.monotonic() > deadline or app.process.returncode is not None:
            raise AssertionError(f"{what}: not in time\n{app.output[-4000:]}")
        await asyncio.sleep(0.01)


async def dictate(d: Desktop, app: Process, script: ScriptedStream, typed: Path) -> None:
    """One dictation; returns once its words are all in the window and the app is idle."""
    expected = window_text(typed) + TEXT
    mark = app.mark()
    d.xdotool("keydown", "F9")
    await app.wait_for_line("capture started at", STEP_TIMEOUT, after=mark)
    first = len(script.sent_at) + 1
    await _until(lambda: len(script.sent_at) >= first, "the first word", app)
    d.xdotool("keyup", "F9")
    await _until(lambda: len(window_text(typed)) >= len(expected), "every word typed", app)
    await app.wait_for_line("dictation: idle", STEP_TIMEOUT, after=mark)
    assert window_text(typed) == expected, app.output[-4000:]


async def soak(
    home: Path,
    display: int,
    dictations: int,
    every: int,
    on_sample: Callable[[Sample], None],
    audio_count: int = HistorySettings.audio_count,
) -> list[Sample]:
    """Run ``dictations`` dictations; a sample before the first and after every ``every``.
    The history keeps the audio of the newest ``audio_count``."""
    samples: list[Sample] = []
    with desktop(home / "home", display) as d:
        d.env["XDG_DATA_HOME"] = str(home / "data")  # where the app keeps its history
        history = home / "data" / "kyutai-dictate" / FILE_NAME
        typed = home / "typed.txt"
        async with scripted_stream(WORDS, frames_per_word=2) as script:
            backend = BackendSettings(BackendKind.PROXY, url=script.url)
            history_settings = HistorySettings(audio_count=audio_count)
            settings_store.save(Settings(backend, history=history_settings), d.config)
            async with target_window(d.env, typed), running_app(d) as app:
                pid, started = app.process.pid, time.monotonic()

                def sample(done: int) -> None:
                    samples.append(take_sample(pid, history, done, started))
                    on_sample(samples[-1])

                sample(0)
                for n in range(1, dictations + 1):
                    await dictate(d, app, script, typed)
                    if n % every == 0 or n == dictations:
                        sample(n)
    return samples
