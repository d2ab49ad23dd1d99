"""``kyutai-dictate history`` in this process, with a real history file: the list, JSON, and
clear errors for what cannot be done (nothing is changed then)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from app.cli.main import main
from app.core.history import Outcome
from app.desktop.history_store import HistoryStore, NewDictation


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> HistoryStore:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    return HistoryStore()


def test_history_lists_newest_first_and_as_json(
    store: HistoryStore, capsys: pytest.CaptureFixture[str]
) -> None:
    store.add(NewDictation(1000.0, "proxy h", "Notes", Outcome.FAILED, "first words", b"\0" * 8))
    store.add(NewDictation(2000.0, "proxy h", "", Outcome.TYPED, "second words", None))
    assert main(["history"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("   2 ")
    assert lines[0].endswith("typed (no audio): second words")
    assert lines[1].endswith("failed (audio) [Notes]: first words")

    assert main(["history", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [(e["id"], e["outcome"], e["has_audio"], e["text"]) for e in listed] == [
        (2, "typed", False, "second words"),
        (1, "failed", True, "first words"),
    ]


def test_retry_says_clearly_what_it_cannot_do(
    store: HistoryStore, capsys: pytest.CaptureFixture[str]
) -> None:
    entry = store.add(NewDictation(1000.0, "proxy h", "", Outcome.TYPED, "kept text", None))
    assert main(["history", "retry"]) == 2
    assert "which entry?" in capsys.readouterr().err
    assert main(["history", "3"]) == 2
    assert "invalid choice: '3'" in capsys.readouterr().err
    assert main(["history", "retry", "99"]) != 0
    assert "no dictation 99" in capsys.readouterr().err
    assert main(["history", "retry", str(entry)]) != 0
    assert "no audio kept" in capsys.readouterr().err
    with_audio = store.add(NewDictation(1000.0, "", "", Outcome.FAILED, "", b"\0" * 8))
    assert main(["history", "retry", str(with_audio)]) != 0  # no settings file: no backend
    assert "no backend configured" in capsys.readouterr().err
    assert store.get(entry).text == "kept text"
    assert store.get(with_audio).retry_text is None
