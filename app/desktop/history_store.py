"""The dictation history on disk: one SQLite file in the user's data directory.

The file is private (0600, as are SQLite's ``-wal`` and ``-shm`` files, which take its mode),
written in WAL mode with full sync, so a crash (even SIGKILL mid-write) loses nothing committed
and leaves the file usable. What is deleted, by the user or by retention, is overwritten
(``secure_delete``) when SQLite next checkpoints; a deletion by the user checkpoints at once
and empties the WAL file (later, if another process reads the history just then).
``PRAGMA user_version`` holds the schema version; opening the store runs the migrations it
lacks. Audio is kept as 16-bit PCM, 24 kHz mono, in a table of its own. Nothing here logs
text.

One connection, shared by threads under a lock (the app writes from a worker thread).
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import platformdirs

from app.core.errors import AppError
from app.core.history import NOT_TRANSCRIBED, HistoryEntry, Outcome, Retention, Stored, prune

FILE_NAME = "history.sqlite3"
log = logging.getLogger(__name__)

# Each step brings the schema from version i to i + 1; never edit one that has shipped.
MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE dictations (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        time REAL NOT NULL,
        backend TEXT NOT NULL,
        window TEXT NOT NULL,
        outcome TEXT NOT NULL,
        text TEXT NOT NULL,
        retry_text TEXT,
        audio BLOB,
        audio_bytes INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX dictations_time ON dictations (time);
    """,
    # Audio in a table of its own. In the row, a dictation's audio left a page of the file
    # behind when it was dropped (rows only ever grow the last page of the table), some 4 KB
    # a dictation for as long as its text was kept. dictations.audio stays, always NULL:
    # older SQLite builds cannot drop a column.
    """
    CREATE TABLE audio (
        dictation INTEGER PRIMARY KEY,
        pcm BLOB NOT NULL
    );
    INSERT INTO audio (dictation, pcm) SELECT id, audio FROM dictations WHERE audio IS NOT NULL;
    UPDATE dictations SET audio = NULL WHERE audio IS NOT NULL;
    """,
)
AUDIO_IN_ITS_OWN_TABLE = 2  # the schema version from which the rows carry no audio
SCHEMA_VERSION = len(MIGRATIONS)
BUSY_TIMEOUT_MS = 5000  # how long one process waits for another that holds the file
_COLUMNS = "id, time, backend, window, outcome, text, retry_text, audio_bytes"


class HistoryError(AppError):
    """The history file cannot be opened or used."""


@dataclass(frozen=True)
class NewDictation:
    time: float
    backend: str
    window: str
    outcome: Outcome
    text: str
    audio: bytes | None = None  # float32 samples at 24 kHz, as captured


def default_path() -> Path:
    return Path(platformdirs.user_data_dir("kyutai-dictate", appauthor=False)) / FILE_NAME


def to_pcm16(float32: bytes) -> bytes:
    samples = np.frombuffer(float32, dtype="<f4")
    return bytes((np.clip(samples, -1.0, 1.0) * 32767.0).astype("<i2").tobytes())


def from_pcm16(pcm16: bytes) -> npt.NDArray[np.float32]:
    return (np.frombuffer(pcm16, dtype="<i2").astype(np.float32) / 32767.0).astype(np.float32)


class HistoryStore:
    def __init__(self, path: Path | None = None) -> None:
        self.path = path or default_path()
        self._lock = threading.Lock()
        try:
            self._db = self._open()
        except sqlite3.Error as exc:
            raise HistoryError(f"cannot open the history {self.path}: {exc}") from None

    def _open(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        # Created private before SQLite opens it; its -wal and -shm files copy this mode.
        os.close(os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600))
        os.chmod(self.path, 0o600)
        db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        try:
            db.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
            version = int(db.execute("PRAGMA user_version").fetchone()[0])
            if version > SCHEMA_VERSION:  # checked before anything is written
                raise sqlite3.DatabaseError(
                    f"schema version {version} is newer than this program's {SCHEMA_VERSION}"
                )
            self._use_wal(db)
            db.execute("PRAGMA synchronous=FULL")
            db.execute("PRAGMA secure_delete=ON")  # what is deleted is overwritten, not left
            if self._migrate(db) and 0 < version < AUDIO_IN_ITS_OWN_TABLE:
                self._compact(db)
        except BaseException:
            db.close()
            raise
        return db

    @staticmethod
    def _use_wal(db: sqlite3.Connection) -> None:
        """Switch the file to WAL (a setting the file keeps). The switch needs the file to
        itself, and SQLite answers SQLITE_BUSY at once there, without its busy handler, when
        another process opens the new file at the same moment; so wait here as it would."""
        deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
        pause = 0.001
        while True:
            try:
                db.execute("PRAGMA journal_mode=WAL")
                return
            except sqlite3.OperationalError as exc:
                busy = exc.sqlite_errorcode & 0xFF == sqlite3.SQLITE_BUSY
                if not busy or time.monotonic() > deadline:
                    raise
            time.sleep(pause)
            pause = min(pause * 2, 0.05)

    @staticmethod
    def _compact(db: sqlite3.Connection) -> None:
        """Give back the pages the rows' audio left behind, once, after that migration. In WAL
        mode VACUUM writes the whole file to the WAL, so that is emptied after. Skipped for
        good if another process holds the file then (the space stays until "Delete all")."""
        try:
            db.execute("VACUUM")
            db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        except sqlite3.OperationalError as exc:
            log.info("history: not compacted (%s)", exc)

    @staticmethod
    def _migrate(db: sqlite3.Connection) -> bool:
        """Bring the schema up to date, one step a transaction; whether this process did. The
        version is read again inside each, as another process (the app, the CLI) may have
        migrated meanwhile."""
        migrated = False
        while True:
            db.execute("BEGIN IMMEDIATE")
            try:
                version = int(db.execute("PRAGMA user_version").fetchone()[0])
                if version < SCHEMA_VERSION:
                    for statement in MIGRATIONS[version].split(";"):
                        if statement.strip():
                            db.execute(statement)
                    db.execute(f"PRAGMA user_version={version + 1}")
                    migrated = True
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
            if version + 1 >= SCHEMA_VERSION:
                return migrated

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
                yield self._db
                self._db.execute("COMMIT")
            except sqlite3.Error as exc:
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                raise HistoryError(f"the history {self.path}: {exc}") from None
            except BaseException:
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                raise

    # -- writing ----------------------------------------------------------------------------

    def add(self, new: NewDictation) -> int:
        """Store a dictation; its id."""
        audio = to_pcm16(new.audio) if new.audio else None
        with self._transaction() as db:
            cursor = db.execute(
                "INSERT INTO dictations (time, backend, window, outcome, text, audio_bytes)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (new.time, new.backend, new.window, new.outcome.value, new.text,
                 len(audio or b"")),
            )  # fmt: skip
            entry_id = cursor.lastrowid
            assert entry_id is not None
            if audio:
                db.execute("INSERT INTO audio (dictation, pcm) VALUES (?, ?)", (entry_id, audio))
            return entry_id

    def mark_held(self, entry_id: int) -> None:
        """Words of a typed dictation were held back after all (a failure stays a failure)."""
        with self._transaction() as db:
            db.execute(
                "UPDATE dictations SET outcome = ? WHERE id = ? AND outcome = ?",
                (Outcome.HELD.value, entry_id, Outcome.TYPED.value),
            )

    def set_retry_text(self, entry_id: int, text: str) -> None:
        with self._transaction() as db:
            db.execute("UPDATE dictations SET retry_text = ? WHERE id = ?", (text, entry_id))

    def delete(self, entry_id: int) -> None:
        with self._transaction() as db:
            db.execute("DELETE FROM audio WHERE dictation = ?", (entry_id,))
            db.execute("DELETE FROM dictations WHERE id = ?", (entry_id,))
        self._empty_wal()

    def delete_all(self) -> None:
        with self._transaction() as db:
            db.execute("DELETE FROM audio")
            db.execute("DELETE FROM dictations")
        with self._lock:
            try:
                self._db.execute("VACUUM")  # the file shrinks back
            except sqlite3.Error as exc:
                raise HistoryError(f"the history {self.path} was emptied, but: {exc}") from None
        self._empty_wal()

    def _empty_wal(self) -> None:
        """The user deleted something: its old pages leave the WAL file too (they would stay
        there until overwritten). While another process (the CLI) reads the history, SQLite
        cannot: then the WAL is emptied at a later checkpoint."""
        with self._lock:
            busy = self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0]
        if busy:
            log.info("history: another process reads the history; its WAL is emptied later")

    def prune(self, retention: Retention, now: float | None = None) -> int:
        """Apply the retention limits; how many entries changed."""
        now = time.time() if now is None else now
        with self._transaction() as db:
            rows = db.execute("SELECT id, time, audio_bytes FROM dictations").fetchall()
            pruning = prune([Stored(*row) for row in rows], now, retention)
            gone = [(i,) for i in pruning.delete]
            silenced = [(i,) for i in pruning.drop_audio]
            db.executemany("DELETE FROM audio WHERE dictation = ?", gone + silenced)
            db.executemany("DELETE FROM dictations WHERE id = ?", gone)
            # audio = NULL too: a version-1 program still running may have written it there.
            db.executemany(
                "UPDATE dictations SET audio = NULL, audio_bytes = 0 WHERE id = ?", silenced
            )
        return len(pruning.delete) + len(pruning.drop_audio)

    # -- reading ----------------------------------------------------------------------------

    def entries(self, search: str = "") -> list[HistoryEntry]:
        """Newest first; ``search`` matches the text, the window or the backend (any case)."""
        where, args = "", ()
        if search:
            like = "%" + search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            where = (
                " WHERE text LIKE ?1 ESCAPE '\\' OR retry_text LIKE ?1 ESCAPE '\\'"
                " OR window LIKE ?1 ESCAPE '\\' OR backend LIKE ?1 ESCAPE '\\'"
            )
            args = (like,)  # type: ignore[assignment]
        with self._lock:
            rows = self._db.execute(
                f"SELECT {_COLUMNS} FROM dictations{where} ORDER BY time DESC, id DESC", args
            ).fetchall()
        return [_entry(row) for row in rows]

    def get(self, entry_id: int) -> HistoryEntry:
        with self._lock:
            row = self._db.execute(
                f"SELECT {_COLUMNS} FROM dictations WHERE id = ?", (entry_id,)
            ).fetchone()
        if row is None:
            raise HistoryError(f"no dictation {entry_id} in the history")
        return _entry(row)

    def audio(self, entry_id: int) -> npt.NDArray[np.float32] | None:
        """The entry's audio as float32 samples, None when not kept."""
        with self._lock:
            row = self._db.execute(
                "SELECT pcm FROM audio WHERE dictation = ?1 UNION ALL"
                " SELECT audio FROM dictations WHERE id = ?1 AND audio IS NOT NULL",
                (entry_id,),
            ).fetchone()  # the row's own column: written by a version-1 program still running
        return None if row is None or row[0] is None else from_pcm16(row[0])

    def not_transcribed(self) -> list[HistoryEntry]:
        """The entries :attr:`HistoryEntry.not_transcribed` picks, newest first, found by
        SQLite (the index on time; no text of other entries is read)."""
        outcomes = tuple(outcome.value for outcome in NOT_TRANSCRIBED)
        marks = ", ".join("?" * len(outcomes))
        with self._lock:
            rows = self._db.execute(
                f"SELECT {_COLUMNS} FROM dictations WHERE outcome IN ({marks})"
                " AND audio_bytes > 0 AND retry_text IS NULL ORDER BY time DESC, id DESC",
                outcomes,
            ).fetchall()
        return [_entry(row) for row in rows]

    def check(self) -> str:
        """SQLite's integrity check: ``ok`` for a sound file."""
        with self._lock:
            return str(self._db.execute("PRAGMA integrity_check").fetchone()[0])


def _entry(row: tuple[object, ...]) -> HistoryEntry:
    entry_id, when, backend, window, outcome, text, retry_text, audio_bytes = row
    return HistoryEntry(
        id=int(entry_id),  # type: ignore[call-overload]
        time=float(when),  # type: ignore[arg-type]
        backend=str(backend),
        window=str(window),
        outcome=Outcome(str(outcome)),
        text=str(text),
        retry_text=None if retry_text is None else str(retry_text),
        audio_bytes=int(audio_bytes),  # type: ignore[call-overload]
    )
