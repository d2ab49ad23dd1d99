"""The typing self-test of ``kyutai-dictate doctor``: a window of its own, focused, receives
a hard text through the chosen typist; the result is what arrived."""

from __future__ import annotations

import sys
import threading
import time
from dataclasses import dataclass

from PySide6.QtWidgets import QApplication, QPlainTextEdit, QSystemTrayIcon

from app.desktop.typists.base import Typist

SAMPLE = "Größe “quoted” café… 日本語 €5"
TITLE = "kyutai-dictate self-test"


@dataclass(frozen=True)
class SelfTest:
    typed: str  # what the window received
    error: str | None = None  # why typing failed, or the window never got the focus

    @property
    def exact(self) -> bool:
        return self.error is None and self.typed == SAMPLE


def tray_host_running() -> bool:
    """Whether a tray would show the app's icon (a StatusNotifierItem host on Wayland)."""
    QApplication.instance() or QApplication(sys.argv[:1])
    return bool(QSystemTrayIcon.isSystemTrayAvailable())


def run_self_test(typist: Typist, timeout: float = 15.0) -> SelfTest:
    """Show the window, wait for its focus, type :data:`SAMPLE`, and wait for it to arrive."""
    app = QApplication.instance() or QApplication(sys.argv[:1])
    assert isinstance(app, QApplication)
    editor = QPlainTextEdit()
    editor.setWindowTitle(TITLE)
    editor.resize(520, 160)
    editor.show()
    editor.activateWindow()
    editor.setFocus()
    deadline = time.monotonic() + timeout
    try:
        while not (editor.isActiveWindow() and editor.hasFocus()):
            if time.monotonic() > deadline:
                return SelfTest("", "the test window never got the keyboard focus")
            app.processEvents()
            time.sleep(0.01)
        failure: list[str] = []

        def type_sample() -> None:
            try:
                typist.type(SAMPLE)
            except Exception as exc:  # reported, not raised: the doctor goes on
                failure.append(str(exc))

        worker = threading.Thread(target=type_sample, daemon=True)
        worker.start()
        while time.monotonic() < deadline and editor.toPlainText() != SAMPLE:
            if failure or (not worker.is_alive() and _settled(editor)):
                break
            app.processEvents()
            time.sleep(0.01)
        return SelfTest(editor.toPlainText(), failure[0] if failure else None)
    finally:
        editor.close()
        editor.deleteLater()
        app.processEvents()


def _settled(editor: QPlainTextEdit, wait: float = 0.5) -> bool:
    """After the typist returned: keys still on their way get ``wait`` seconds to arrive."""
    end = time.monotonic() + wait
    while time.monotonic() < end and editor.toPlainText() != SAMPLE:
        QApplication.processEvents()
        time.sleep(0.01)
    return True
