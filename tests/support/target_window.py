"""A real Qt window that receives typed text, for typing tests.

    python -m tests.support.target_window OUT_FILE

Shows a text field, prints ``focused`` on stdout once it has the keyboard focus, and writes
its whole text to OUT_FILE after every change.
"""

from __future__ import annotations

import sys
from pathlib import Path

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QPlainTextEdit


def main() -> int:
    out = Path(sys.argv[1])
    app = QApplication(sys.argv[:1])
    editor = QPlainTextEdit()
    editor.setWindowTitle("typing target")
    editor.resize(600, 300)
    editor.textChanged.connect(lambda: out.write_text(editor.toPlainText(), encoding="utf-8"))
    editor.show()
    editor.activateWindow()
    editor.setFocus()

    def announce_focus() -> None:
        if editor.isActiveWindow() and editor.hasFocus():
            print("focused", flush=True)
        else:
            editor.activateWindow()
            QTimer.singleShot(20, announce_focus)

    QTimer.singleShot(0, announce_focus)
    return app.exec()


if __name__ == "__main__":
    sys.exit(main())
