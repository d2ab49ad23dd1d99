"""Where the desktop cannot say which window has the focus, the settings say the guard is off."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QApplication

from tests.ui.test_settings_dialog import keyring_file, make_dialog

__all__ = ["keyring_file"]  # the fixture, used by name

WHY = "the focus guard is off on this Wayland desktop: it does not tell apps the focused window"


def test_the_dictation_page_says_why_the_guard_is_off(
    qapp: QApplication, keyring_file: Path
) -> None:
    dialog, _ = make_dialog(focus_guard_note=WHY)
    assert not dialog.dictation.focus_guard.isEnabled()
    assert dialog.dictation.focus_note.text() == WHY
    assert not dialog.dictation.focus_note.isHidden()
    dialog.close()


def test_without_a_note_the_guard_is_offered(qapp: QApplication, keyring_file: Path) -> None:
    dialog, _ = make_dialog()
    assert dialog.dictation.focus_guard.isEnabled()
    assert dialog.dictation.focus_note.isHidden()
    dialog.close()
