"""The History window in this process: the app built for real (DictateApp), its history in a
real SQLite file, "transcribe again" against a real /v1/stream server on loopback."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QApplication

from app.core.commands import RemoteCommand
from app.core.credentials import secret_lookup
from app.core.history import Outcome
from app.core.settings import BackendKind, BackendSettings, HistorySettings, Settings
from app.desktop.history_store import HistoryStore, NewDictation
from app.ui.dictate_app import DictateApp
from app.ui.history_window import HistoryWindow
from tests.support.desktop import until
from tests.support.scripted_stream import scripted_stream

WORDS = [" The", " quick", " brown", " fox."]
AUDIO = np.zeros(24_000, dtype="<f4").tobytes()


def rows(window: HistoryWindow) -> list[str]:
    return [window.table.item(row, 3).text() for row in range(window.table.rowCount())]


async def test_search_copy_transcribe_again_and_delete(qapp: QApplication, tmp_path: Path) -> None:
    store = HistoryStore()  # where the app finds it (this test's XDG_DATA_HOME)
    failed = store.add(NewDictation(1000.0, "proxy", "Notes", Outcome.FAILED, "The", AUDIO))
    store.add(NewDictation(2000.0, "proxy", "Mail", Outcome.TYPED, "Dear Sir", None))
    store.close()
    async with scripted_stream(WORDS, frames_per_word=2) as script:
        settings = Settings(BackendSettings(BackendKind.PROXY, url=script.url))
        app = DictateApp(
            settings, lambda s: None, tmp_path / "app.log", secret_lookup({}, {}.get), {}, float
        )
        try:
            assert app.control(RemoteCommand.SHOW_HISTORY) == "ok"
            await until(lambda: app.history.window is not None)  # once the store is open
            window = app.history.window
            assert window is not None
            assert window.isVisible()
            assert rows(window) == ["Dear Sir", "The"]  # newest first

            window.search.setText("dear")
            assert rows(window) == ["Dear Sir"]
            window.table.selectRow(0)
            assert "No audio kept" in window.detail.text()
            assert not window.retry_button.isEnabled()
            window.copy_button.click()
            assert QGuiApplication.clipboard().text() == "Dear Sir"
            window.search.setText("")

            window.select_id(failed)
            assert "Audio kept (1.0 s)" in window.detail.text()
            assert window.retry_all_button.text().endswith("(1)")
            window.retry_button.click()
            await until(lambda: rows(window)[1] == "The quick brown fox.")
            assert script.sessions == 1  # sent once
            assert window.table.item(1, 1).text() == "not transcribed, transcribed again"
            assert not window.retry_all_button.isEnabled()
            assert await app.history.offer_pending() == 0

            app.apply_settings(replace(settings, history=HistorySettings(keep_audio=False)))
            window.refresh()
            assert "Audio is off" in window.detail.text()

            window.select_id(failed)
            window.delete_button.click()
            await until(lambda: rows(window) == ["Dear Sir"])
            window.delete_all_button.click()  # asks first
            assert window.delete_all_button.text() != "Delete all…"
            assert rows(window) == ["Dear Sir"]
            window.delete_all_button.click()
            await until(lambda: rows(window) == [])
        finally:
            await app.close()
    assert HistoryStore().entries() == []
