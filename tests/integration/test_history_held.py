"""Words held back are marked on the dictation they belong to, whenever the news comes: while
it is open, while its entry is being written, or once it is stored; never on a later one.
(A real SQLite store; the app around the history is a small stand-in of its App protocol.)"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from app.core.history import Outcome, Retention
from app.core.settings import Settings
from app.desktop.history_recorder import HistoryRecorder
from app.desktop.history_store import HistoryStore, NewDictation
from app.ui import history as history_module
from app.ui.history import History
from tests.support.desktop import until


@dataclass
class Tray:
    offers: list[str] = field(default_factory=list)

    def offer(self, message: str) -> None:
        self.offers.append(message)


@dataclass
class App:
    """What :class:`History` uses of the app when it records (see its App protocol)."""

    settings: Settings = field(default_factory=Settings)
    tray: Tray = field(default_factory=Tray)
    notices: list[str] = field(default_factory=list)

    def notify(self, message: str, error: bool) -> None:
        self.notices.append(message)


class GatedStore(HistoryStore):
    """The real store, whose ``add`` and ``prune`` wait for the test to open their gates."""

    gate = threading.Event()
    prune_gate = threading.Event()

    def add(self, new: NewDictation) -> int:
        assert self.gate.wait(10), "the test never opened the gate"
        return super().add(new)

    def prune(self, retention: Retention, now: float | None = None) -> int:
        assert self.prune_gate.wait(10), "the test never opened the prune gate"
        return super().prune(retention, now)


@pytest.fixture
def gated(monkeypatch: pytest.MonkeyPatch) -> Iterator[type[GatedStore]]:
    GatedStore.gate, GatedStore.prune_gate = threading.Event(), threading.Event()
    GatedStore.gate.set()
    GatedStore.prune_gate.set()
    monkeypatch.setattr(history_module, "HistoryStore", GatedStore)
    yield GatedStore
    GatedStore.gate.set()
    GatedStore.prune_gate.set()


def outcomes(path: Path) -> list[Outcome]:
    store = HistoryStore(path)
    try:
        return [entry.outcome for entry in reversed(store.entries())]  # oldest first
    finally:
        store.close()


def dictate(recorder: HistoryRecorder, text: str) -> int:
    """A dictation that begins and gets its words; it stays open."""
    record = recorder.begin()
    recorder.text(text)
    return record.number


def test_the_recorder_marks_the_open_dictation_it_is_told_of() -> None:
    finished: list[tuple[int, NewDictation]] = []
    recorder = HistoryRecorder(lambda number, new: finished.append((number, new)))
    first, second = dictate(recorder, "one"), dictate(recorder, "two")
    assert (first, second) == (1, 2)
    assert recorder.held(2)
    recorder.finished()
    assert not recorder.held(1)  # handed on: the history finds it in the store
    recorder.finished()
    assert [(n, new.outcome) for n, new in finished] == [(1, Outcome.TYPED), (2, Outcome.HELD)]


@pytest.mark.parametrize("stage", ["write", "prune"])
async def test_held_while_its_entry_is_saved_marks_that_entry(
    tmp_path: Path, gated: type[GatedStore], stage: str
) -> None:
    """The news comes while the entry is written, or once written, while it is pruned."""
    path = tmp_path / "history.sqlite3"
    history = History(App(), path)  # type: ignore[arg-type]
    number = dictate(history.recorder, "one")
    gate = gated.gate if stage == "write" else gated.prune_gate
    gate.clear()
    history.recorder.finished()  # the save waits at the gate
    if stage == "prune":
        await until(lambda: len(outcomes(path)) == 1)
    history.held(number)
    gate.set()
    await until(lambda: outcomes(path) == [Outcome.HELD])
    await history.close()


async def test_held_after_it_was_stored_marks_it_and_not_the_dictation_open_now(
    tmp_path: Path, gated: type[GatedStore]
) -> None:
    path = tmp_path / "history.sqlite3"
    app = App()
    history = History(app, path)  # type: ignore[arg-type]
    first = dictate(history.recorder, "one")
    history.recorder.finished()
    await until(lambda: outcomes(path) == [Outcome.TYPED])
    dictate(history.recorder, "two")  # the next dictation is open when the news comes
    history.held(first)
    await until(lambda: outcomes(path) == [Outcome.HELD])
    history.recorder.finished()
    await until(lambda: len(outcomes(path)) == 2)
    assert outcomes(path) == [Outcome.HELD, Outcome.TYPED]
    assert app.notices == []
    await history.close()


def test_a_failed_entry_stays_failed_when_words_were_also_held(tmp_path: Path) -> None:
    store = HistoryStore(tmp_path / "history.sqlite3")
    entry = store.add(NewDictation(1.0, "proxy", "Notes", Outcome.FAILED, "one"))
    store.mark_held(entry)
    assert store.get(entry).outcome is Outcome.FAILED
    store.close()
