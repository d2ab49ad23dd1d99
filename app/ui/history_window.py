"""The History window: every dictation kept, searchable; copy, type, delete, transcribe again.

It shows and asks; :class:`~app.ui.history.History` does the work (the store, the backend).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.core.history import HistoryEntry

BYTES_PER_SECOND = 2 * 24_000  # stored audio: 16-bit, 24 kHz mono
_OUTCOME_TEXT = {
    "typed": "typed",
    "held": "held back",
    "failed": "not transcribed",
    "cancelled": "cancelled",
}


class HistoryWindow(QWidget):
    def __init__(
        self,
        load: Callable[[str], Sequence[HistoryEntry]],
        keep_audio: Callable[[], bool],
        copy: Callable[[str], None],
        type_text: Callable[[str], None],
        retry: Callable[[Sequence[int]], None],
        delete: Callable[[int | None], None],
    ) -> None:
        """``delete(None)`` deletes every entry; ``retry(ids)`` transcribes them again."""
        super().__init__()
        self.setObjectName("history")
        self.setWindowTitle("Kyutai Dictate: History")
        self.resize(760, 440)
        self._load, self._keep_audio = load, keep_audio
        self._copy, self._type, self._retry, self._delete = copy, type_text, retry, delete
        self._entries: list[HistoryEntry] = []

        self.search = QLineEdit(placeholderText="Search the text, the window or the backend")
        self.search.setObjectName("search")
        self.search.textChanged.connect(lambda _: self.refresh())
        self.table = QTableWidget(0, 4)
        self.table.setHorizontalHeaderLabels(["When", "Outcome", "Window", "Text"])
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().hide()
        header = self.table.horizontalHeader()
        for column in range(3):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(True)
        self.table.itemSelectionChanged.connect(self._selection_changed)
        self.detail = QLabel(wordWrap=True)
        self.detail.setObjectName("detail")
        self.detail.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        self.copy_button = self._button("Copy", lambda: self._with_text(self._copy))
        self.type_button = self._button("Type into window", lambda: self._with_text(self._type))
        self.retry_button = self._button("Transcribe again", self._retry_selected)
        self.delete_button = self._button("Delete", self._delete_selected)
        self.retry_all_button = self._button("Transcribe all not transcribed", self._retry_all)
        self.delete_all_button = self._button("Delete all…", self._delete_all)
        self._confirm_delete_all = False

        row = QHBoxLayout()
        for button in (self.copy_button, self.type_button, self.retry_button, self.delete_button):
            row.addWidget(button)
        row.addStretch(1)
        row.addWidget(self.retry_all_button)
        row.addWidget(self.delete_all_button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.search)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.detail)
        layout.addLayout(row)
        self.refresh()

    def _button(self, text: str, slot: Callable[[], None]) -> QPushButton:
        button = QPushButton(text)
        button.clicked.connect(slot)
        return button

    # -- showing --------------------------------------------------------------------------

    def refresh(self) -> None:
        """Reload the entries (after a change), keeping the selection."""
        chosen = self.selected()
        chosen_id = chosen.id if chosen else None
        self._entries = list(self._load(self.search.text().strip()))
        self.table.setRowCount(len(self._entries))
        for row, entry in enumerate(self._entries):
            when = time.strftime("%Y-%m-%d %H:%M", time.localtime(entry.time))
            outcome = _OUTCOME_TEXT[entry.outcome.value]
            if entry.retry_text is not None:
                outcome += ", transcribed again"
            for column, text in enumerate((when, outcome, entry.window, entry.shown_text)):
                item = QTableWidgetItem(text)
                item.setToolTip(text)
                self.table.setItem(row, column, item)
            if entry.id == chosen_id:
                self.table.selectRow(row)
        pending = sum(entry.not_transcribed for entry in self._entries)
        self.retry_all_button.setText(f"Transcribe all not transcribed ({pending})")
        self.retry_all_button.setEnabled(pending > 0)
        self.delete_all_button.setEnabled(bool(self._entries))
        self._selection_changed()

    def selected(self) -> HistoryEntry | None:
        rows = self.table.selectionModel().selectedRows() if self.table.selectionModel() else []
        if not rows or rows[0].row() >= len(self._entries):
            return None
        return self._entries[rows[0].row()]

    def select_id(self, entry_id: int) -> None:
        for row, entry in enumerate(self._entries):
            if entry.id == entry_id:
                self.table.selectRow(row)

    def _selection_changed(self) -> None:
        entry = self.selected()
        for button in (self.copy_button, self.type_button, self.delete_button):
            button.setEnabled(entry is not None)
        self.retry_button.setEnabled(entry is not None and entry.has_audio)
        self.detail.setText(self._describe(entry))

    def _describe(self, entry: HistoryEntry | None) -> str:
        if not self._keep_audio():
            audio_off = "Audio is off (Settings): new dictations cannot be transcribed again."
        else:
            audio_off = ""
        if entry is None:
            return audio_off or "Select a dictation."
        if entry.has_audio:
            seconds = entry.audio_bytes / BYTES_PER_SECOND
            audio = f"Audio kept ({seconds:.1f} s): it can be transcribed again."
        else:
            audio = "No audio kept: it cannot be transcribed again."
        backend = f"Backend: {entry.backend}." if entry.backend else ""
        return " ".join(part for part in (audio, backend, audio_off) if part)

    # -- doing --------------------------------------------------------------------------

    def _with_text(self, action: Callable[[str], None]) -> None:
        entry = self.selected()
        if entry is not None:
            action(entry.shown_text)

    def _retry_selected(self) -> None:
        entry = self.selected()
        if entry is not None and entry.has_audio:
            self._retry([entry.id])

    def _retry_all(self) -> None:
        self._retry([entry.id for entry in self._load("") if entry.not_transcribed])

    def _delete_selected(self) -> None:
        entry = self.selected()
        if entry is not None:
            self._delete(entry.id)

    def _delete_all(self) -> None:
        """Two clicks: the first asks (a modal box would nest an event loop under qasync)."""
        if not self._confirm_delete_all:
            self._confirm_delete_all = True
            self.delete_all_button.setText("Really delete all?")
            return
        self._confirm_delete_all = False
        self.delete_all_button.setText("Delete all…")
        self._delete(None)
