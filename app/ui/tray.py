"""The tray icon and its menu: renders the app's :class:`~app.core.status.Status`, emits intents.

Where the desktop has no tray (some Wayland and tiling setups), the app runs without it;
:func:`tray_available` says so, and the hotkey, the overlay and ``kyutai-dictate toggle``
keep working.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QMenu, QSystemTrayIcon

from app.core.status import Status
from app.ui.icons import icon


def tray_available() -> bool:
    return bool(QSystemTrayIcon.isSystemTrayAvailable())


class Tray(QObject):
    toggle_dictation = Signal()
    show_captions = Signal(bool)
    captions_only = Signal(bool)
    open_settings = Signal()
    open_history = Signal()
    transcribe_pending = Signal()  # the user took the offer to transcribe what failed
    open_log = Signal()
    show_about = Signal()
    quit = Signal()

    def __init__(self) -> None:
        super().__init__()
        self._icon = QSystemTrayIcon()
        self._icon.setObjectName("tray")
        self._menu = QMenu()
        self._dictate = self._add("Start dictation", self.toggle_dictation.emit)
        self._menu.addSeparator()
        self._captions = self._add("Show captions", self.show_captions.emit, checkable=True)
        self._captions_only = self._add(
            "Captions only (no typing)", self.captions_only.emit, checkable=True
        )
        self._menu.addSeparator()
        self._add("History…", self.open_history.emit)
        self._add("Settings…", self.open_settings.emit)
        self._add("Open log", self.open_log.emit)
        self._add("About kyutai-dictate", self.show_about.emit)
        self._menu.addSeparator()
        self._add("Quit", self.quit.emit)
        self._icon.setContextMenu(self._menu)
        self._icon.activated.connect(self._activated)
        self._offering = False  # the last message is the offer to transcribe
        self._icon.messageClicked.connect(self._message_clicked)

    def _add(self, text: str, slot: object, checkable: bool = False) -> QAction:
        action = QAction(text, self._menu)
        action.setCheckable(checkable)
        action.triggered.connect(slot)
        self._menu.addAction(action)
        return action

    def show(self) -> None:
        self._icon.show()

    def hide(self) -> None:
        self._icon.hide()

    def render(self, status: Status, captions: bool, captions_only: bool) -> None:
        self._icon.setIcon(icon(status.look))
        self._icon.setToolTip(f"kyutai-dictate: {status.describe()}")
        dictating = status.phase.value != "idle"
        self._dictate.setText("Stop dictation" if dictating else "Start dictation")
        self._captions.setChecked(captions)
        self._captions_only.setChecked(captions_only)

    def notify(self, message: str, error: bool) -> None:
        """A balloon message (where the tray shows them)."""
        kind = (
            QSystemTrayIcon.MessageIcon.Critical
            if error
            else QSystemTrayIcon.MessageIcon.Information
        )
        self._offering = False
        self._icon.showMessage("kyutai-dictate", message, kind, 8000 if error else 4000)

    def offer(self, message: str) -> None:
        """A question; clicking the message says yes (``transcribe_pending``)."""
        self._offering = True
        kind = QSystemTrayIcon.MessageIcon.Information
        self._icon.showMessage("kyutai-dictate", message, kind, 15000)

    def _message_clicked(self) -> None:
        if self._offering:
            self._offering = False
            self.transcribe_pending.emit()

    def _activated(self, reason: QSystemTrayIcon.ActivationReason) -> None:
        if reason == QSystemTrayIcon.ActivationReason.Trigger:  # left click
            self.toggle_dictation.emit()
