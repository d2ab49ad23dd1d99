"""The history's SQLite file for real: private, WAL, migrated on open, retention enforced,
and usable after the writer is killed mid-write."""

from __future__ import annotations

import contextlib
import os
import signal
import sqlite3
import stat
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from app.core.history import DAY, Outcome, Retention
from app.desktop.history_store import (
    MIGRATIONS,
    SCHEMA_VERSION,
    HistoryError,
    HistoryStore,
    NewDictation,
    to_pcm16,
)
from tests.support.desktop import ROOT

NOW = 1_000 * DAY
SECOND = np.full(24_000, 0.25, dtype="<f4").tobytes()  # 1 s of audio: 48 kB stored


def dictation(when: float, text: str = "hello", audio: bytes | None = SECOND) -> NewDictation:
    return NewDictation(when, "proxy ws://127.0.0.1", "Notes", Outcome.FAILED, text, audio)


def test_the_file_is_private_in_wal_mode_and_at_the_current_schema(tmp_path: Path) -> None:
    path = tmp_path / "data" / "history.sqlite3"
    store = HistoryStore(path)
    store.add(dictation(NOW))
    for file in (path, path.with_name(path.name + "-wal")):
        assert stat.S_IMODE(file.stat().st_mode) == 0o600, file
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    store.close()


def test_an_empty_file_is_migrated_and_a_newer_one_refused_untouched(tmp_path: Path) -> None:
    old = tmp_path / "old.sqlite3"
    sqlite3.connect(old).close()  # version 0: no tables yet
    store = HistoryStore(old)
    entry_id = store.add(dictation(NOW))
    assert store.get(entry_id).text == "hello"
    store.close()

    newer = tmp_path / "newer.sqlite3"
    with sqlite3.connect(newer) as db:
        db.execute(f"PRAGMA user_version={SCHEMA_VERSION + 1}")
    before = newer.read_bytes()
    with pytest.raises(HistoryError, match="newer than this program"):
        HistoryStore(newer)
    assert newer.read_bytes() == before


def version_1_file(path: Path, count: int) -> None:
    """A history as the first schema wrote it: the audio in each dictation's row."""
    with sqlite3.connect(path) as db:
        db.executescript(MIGRATIONS[0])
        pcm = to_pcm16(SECOND)
        for i in range(count):
            db.execute(
                "INSERT INTO dictations (time, backend, window, outcome, text, audio, audio_bytes)"
                " VALUES (?, 'proxy', 'Notes', 'failed', ?, ?, ?)",
                (NOW + i, f"words {i}", pcm if i % 2 else None, len(pcm) if i % 2 else 0),
            )
        db.execute("UPDATE dictations SET audio = NULL, audio_bytes = 0 WHERE id < 30")
        db.execute("PRAGMA user_version=1")


def test_a_version_1_file_keeps_its_audio_and_gives_back_the_pages_it_wasted(
    tmp_path: Path,
) -> None:
    path = tmp_path / "h.sqlite3"
    version_1_file(path, 40)
    before = path.stat().st_size
    store = HistoryStore(path)
    entries = {entry.id: entry for entry in store.entries()}
    assert len(entries) == 40
    with_audio = sorted(i for i, entry in entries.items() if entry.has_audio)
    assert with_audio == list(range(30, 41, 2))  # ids count from 1
    for entry_id in entries:
        audio = store.audio(entry_id)
        assert (audio is not None) == (entry_id in with_audio)
        if audio is not None:
            np.testing.assert_allclose(audio, 0.25, atol=1e-4)
    store.close()
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert (
            db.execute("SELECT count(*) FROM dictations WHERE audio IS NOT NULL").fetchone()[0] == 0
        )
    assert path.stat().st_size < before / 3, (before, path.stat().st_size)


def test_audio_a_version_1_program_still_writes_is_read_and_dropped_by_retention(
    tmp_path: Path,
) -> None:
    """An app of the first schema, still running when a newer one migrated the file, keeps
    writing audio into the row; it is used and, past retention, dropped like any other."""
    path = tmp_path / "h.sqlite3"
    store = HistoryStore(path)
    loud = to_pcm16(np.full(24_000, 0.5, dtype="<f4").tobytes())
    with contextlib.closing(sqlite3.connect(path)) as db, db:  # the version-1 add(), committed
        db.execute(
            "INSERT INTO dictations (time, backend, window, outcome, text, audio, audio_bytes)"
            " VALUES (?, 'proxy', 'Notes', 'failed', 'old app', ?, ?)",
            (NOW, loud, len(loud)),
        )
    (entry,) = store.not_transcribed()
    audio = store.audio(entry.id)
    assert audio is not None
    np.testing.assert_allclose(audio, 0.5, atol=1e-4)
    store.prune(Retention(audio_count=0), NOW + 1)
    assert store.audio(entry.id) is None
    assert store.not_transcribed() == []
    store.close()
    assert loud[:64] not in on_disk(path)


def test_the_file_does_not_grow_with_dictations_whose_audio_was_dropped(tmp_path: Path) -> None:
    """Only the text stays of all but the newest 5: a few dozen bytes each, not a page."""
    store = HistoryStore(tmp_path / "h.sqlite3")
    retention = Retention(audio_count=5)
    sizes = []
    for i in range(400):
        store.add(dictation(NOW + i))
        store.prune(retention, NOW + i)
        if i in (99, 399):
            sizes.append(page_bytes(store))
    store.close()
    assert sizes[1] - sizes[0] < 300 * 256, sizes  # 300 more texts: under 256 bytes each


def page_bytes(store: HistoryStore) -> int:
    with sqlite3.connect(store.path) as db:
        pages = db.execute("PRAGMA page_count").fetchone()[0]
        free = db.execute("PRAGMA freelist_count").fetchone()[0]
        return int((pages - free) * db.execute("PRAGMA page_size").fetchone()[0])


def test_audio_round_trips_search_finds_and_delete_removes(tmp_path: Path) -> None:
    store = HistoryStore(tmp_path / "h.sqlite3")
    first = store.add(dictation(NOW - 2, "the quick brown fox"))
    second = store.add(dictation(NOW - 1, "100% sure_thing", audio=None))
    assert [e.id for e in store.entries()] == [second, first]
    assert [e.id for e in store.entries("QUICK")] == [first]
    assert [e.id for e in store.entries("0%")] == [second]
    assert [e.id for e in store.entries("e_t")] == [second]
    assert [e.id for e in store.entries("x_t")] == []
    audio = store.audio(first)
    assert audio is not None
    np.testing.assert_allclose(audio, 0.25, atol=1e-4)
    assert store.audio(second) is None
    store.set_retry_text(first, "the quick brown fox jumps")
    assert store.get(first).shown_text == "the quick brown fox jumps"
    store.delete(first)
    assert [e.id for e in store.entries()] == [second]
    store.delete_all()
    assert store.entries() == []
    with pytest.raises(HistoryError, match="no dictation"):
        store.get(second)
    store.close()
    assert b"sure_thing" not in (tmp_path / "h.sqlite3").read_bytes()


def on_disk(path: Path) -> bytes:
    """The history file and its WAL file, as they are now."""
    wal = path.with_name(path.name + "-wal")
    return path.read_bytes() + (wal.read_bytes() if wal.exists() else b"")


def test_what_is_deleted_is_gone_from_the_file_and_its_wal_at_once(tmp_path: Path) -> None:
    """Deleting a dictation leaves no copy on disk while the app still runs (the store stays
    open); audio dropped by retention is overwritten in the file at SQLite's next checkpoint
    (here: when the store closes)."""
    path = tmp_path / "h.sqlite3"
    store = HistoryStore(path)
    loud = np.full(24_000, 0.5, dtype="<f4").tobytes()  # stored as 0x3fff, again and again
    kept = store.add(dictation(NOW, "kept words"))
    secret = store.add(dictation(NOW + 1, "a private sentence", audio=loud))
    assert b"a private sentence" in on_disk(path)
    assert to_pcm16(loud)[:64] in on_disk(path)
    store.delete(secret)
    assert b"a private sentence" not in on_disk(path)
    assert to_pcm16(loud)[:64] not in on_disk(path)
    store.prune(Retention(audio_count=0), NOW + 2)
    assert store.audio(kept) is None
    store.close()
    assert to_pcm16(SECOND)[:64] not in on_disk(path)
    assert b"kept words" in on_disk(path)


def test_what_waits_to_be_transcribed_is_what_the_entry_rule_says(tmp_path: Path) -> None:
    """The store's query and :attr:`HistoryEntry.not_transcribed` pick the same entries."""
    store = HistoryStore(tmp_path / "history.sqlite3")
    for i, (outcome, audio, retried) in enumerate(
        (outcome, audio, retried)
        for outcome in Outcome
        for audio in (SECOND, None)
        for retried in (False, True)
    ):
        entry_id = store.add(NewDictation(NOW + i, "proxy", "", outcome, "w", audio))
        if retried:
            store.set_retry_text(entry_id, "again")
    waiting = store.not_transcribed()
    assert waiting == [entry for entry in store.entries() if entry.not_transcribed]
    assert {entry.outcome for entry in waiting} == {Outcome.FAILED, Outcome.CANCELLED}
    store.close()


def test_retention_is_enforced_by_count_age_and_size(tmp_path: Path) -> None:
    store = HistoryStore(tmp_path / "h.sqlite3")
    ids = [store.add(dictation(NOW - i)) for i in range(6)]  # ids[0] is the newest
    store.prune(Retention(audio_count=4), NOW)
    assert [store.get(i).has_audio for i in ids] == [True] * 4 + [False] * 2

    store.prune(Retention(audio_bytes=3 * 48_000), NOW)
    assert [store.get(i).has_audio for i in ids] == [True] * 3 + [False] * 3

    store.prune(Retention(audio_seconds=1.5), NOW)
    assert [store.get(i).has_audio for i in ids] == [True] * 2 + [False] * 4
    assert store.audio(ids[2]) is None

    store.prune(Retention(text_seconds=3.5), NOW)
    assert [e.id for e in store.entries()] == ids[:4]
    store.close()


WRITER = """
import sys, time
from app.core.history import Outcome
from app.desktop.history_store import HistoryStore, NewDictation
store = HistoryStore(__import__("pathlib").Path(sys.argv[1]))
audio = bytes(4 * 24_000 * 3)
while True:
    entry = store.add(NewDictation(time.time(), "proxy", "", Outcome.TYPED, "word " * 50, audio))
    print(entry, flush=True)
"""


def test_a_writer_killed_mid_write_leaves_the_file_usable_with_every_commit(
    tmp_path: Path,
) -> None:
    path = tmp_path / "h.sqlite3"
    writer = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(path)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert writer.stdout is not None
    committed = [int(writer.stdout.readline()) for _ in range(30)]
    os.kill(writer.pid, signal.SIGKILL)  # in the middle of the next write
    writer.wait(10)
    committed += [int(line) for line in writer.stdout.read().split()]

    store = HistoryStore(path)  # as the app does when it starts again
    assert store.check() == "ok"
    stored = {entry.id for entry in store.entries()}
    assert set(committed) <= stored
    new = store.add(dictation(NOW))
    assert new > max(stored)
    store.close()


OPENER = """
import pathlib, sys
from app.desktop.history_store import HistoryError, HistoryStore
for line in sys.stdin:  # one new file a line, given to every opener at once
    try:
        HistoryStore(pathlib.Path(line.strip())).close()
        print("ok", flush=True)
    except HistoryError as exc:
        print(exc, flush=True)
"""


def test_processes_opening_a_new_file_at_once_all_succeed(tmp_path: Path) -> None:
    """The app and the CLI may create the file together: one migrates, the others see it.
    (Switching a new file to WAL collides about once in forty opens here, so many rounds.)"""
    openers = [
        subprocess.Popen(
            [sys.executable, "-c", OPENER],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
        for _ in range(6)
    ]
    try:
        for attempt in range(40):
            path = tmp_path / f"h{attempt}.sqlite3"
            for opener in openers:
                assert opener.stdin is not None
                opener.stdin.write(f"{path}\n")
                opener.stdin.flush()
            for opener in openers:
                assert opener.stdout is not None
                assert opener.stdout.readline().strip() == "ok", attempt
            store = HistoryStore(path)
            assert store.check() == "ok"
            store.close()
    finally:
        for opener in openers:
            assert opener.stdin is not None
            opener.stdin.close()
            opener.wait(timeout=30)
