"""Fixtures of the UI tests that run Qt in the test process (offscreen platform)."""

from __future__ import annotations

import os
import sys

import pytest
from PySide6.QtWidgets import QApplication


@pytest.fixture(scope="session")
def qapp() -> QApplication:
    existing = QApplication.instance()
    if isinstance(existing, QApplication):
        return existing
    previous = os.environ.get("QT_QPA_PLATFORM")
    os.environ["QT_QPA_PLATFORM"] = "offscreen"  # chosen when the application is created
    try:
        return QApplication(sys.argv[:1])
    finally:
        if previous is None:
            del os.environ["QT_QPA_PLATFORM"]
        else:
            os.environ["QT_QPA_PLATFORM"] = previous
