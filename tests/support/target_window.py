"""A real Qt window that receives typed text, for typing tests.

    python -m tests.support.target_window OUT_FILE [TITLE]

Shows a text field, prints ``focused`` on stdout once it has the keyboard focus, and writes
its whole text to OUT_FILE after every change (atomically).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QPlainTextEdit


@contextmanager
def focused_target(env: dict[str, str], out: Path) -> Iterator[None]:
    """Run this window (blocking helper for synchronous tests) until it has the focus."""
    window = subprocess.Popen(
        [sys.executable, "-m", "tests.support.target_window", str(out)],
        cwd=Path(__file__).resolve().parents[2],
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert window.stdout is not None
        assert window.stdout.readline().strip() == "focused"
        yield
    finally:
        window.terminate()
        window.wait(timeout=10)


def wait_for_text(out: Path, text: str, timeout: float = 10.0) -> str:
    """Wait until the window's file holds ``text``; return what it holds in the end."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if out.exists() and out.read_text(encoding="utf-8") == text:
            break
        time.sleep(0.05)
    return out.read_text(encoding="utf-8") if out.exists() else ""


def save(out: Path, text: str) -> None:
    """Replace the file at once, so a reader never sees it half written. With
    ``TARGET_WINDOW_TIMES`` set, also append ``<monotonic time> <length>`` to that file."""
    partial = out.with_name(f".{out.name}.partial")
    partial.write_text(text, encoding="utf-8")
    os.replace(partial, out)
    times = os.environ.get("TARGET_WINDOW_TIMES")
    if times:
        with open(times, "a", encoding="utf-8") as log:
            log.write(f"{time.monotonic():.6f} {len(text)}\n")


def main() -> int:
    out = Path(sys.argv[1])
    app = QApplication(sys.argv[:1])
    editor = QPlainTextEdit()
    editor.setWindowTitle(sys.argv[2] if len(sys.argv) > 2 else "typing target")
    editor.resize(600, 300)
    editor.textChanged.connect(lambda: save(out, editor.toPlainText()))
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
