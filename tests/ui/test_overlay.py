"""The caption overlay stays whole on the screen: a remembered place from a larger screen, and
a long error message, which wraps rather than run past the edge; it shows a voice command as
itself, and dictated text as text, never as markup (offscreen Qt platform)."""

from __future__ import annotations

from PySide6.QtCore import QRect
from PySide6.QtGui import QGuiApplication, QTextDocumentFragment
from PySide6.QtWidgets import QApplication, QLabel

from app.core.status import Look
from app.core.voice_edits import Key, PressEdit
from app.ui.overlay import Overlay

LONG_ERROR = (
    "error: the server needs a token, and none is set: the keyring could not be read (no "
    "secure keyring is available (keyrings.alt.file.PlaintextKeyring)): set "
    "KYUTAI_DICTATE_TOKEN in the app's environment, or make a secure keyring available and "
    "enter it in Settings (this dictation was not transcribed)"
)


def screen() -> QRect:
    return QGuiApplication.primaryScreen().availableGeometry()


def whole_on_screen(overlay: Overlay) -> bool:
    return screen().contains(overlay.frameGeometry())


def test_a_remembered_place_past_the_edge_comes_back_whole(qapp: QApplication) -> None:
    area = screen()
    overlay = Overlay()
    overlay.place((area.right() - 100, area.bottom() - 50, 640, 120))
    overlay.show()
    QApplication.processEvents()
    assert whole_on_screen(overlay), overlay.frameGeometry()
    assert overlay.width() == 640
    overlay.close()


def test_a_long_error_wraps_and_stays_on_screen(qapp: QApplication) -> None:
    area = screen()
    overlay = Overlay()
    overlay.place(())  # the default place: bottom centre
    overlay.show()
    width = overlay.width()
    overlay.set_state(Look.ERROR, LONG_ERROR)
    QApplication.processEvents()
    assert whole_on_screen(overlay), (overlay.frameGeometry(), area)
    assert overlay.width() == width  # it wrapped instead of widening
    state = overlay.findChild(QLabel, "state")
    assert state is not None
    assert state.wordWrap()
    # All of the text fits in the label: nothing cut off mid-word.
    assert state.height() >= state.heightForWidth(state.width())
    overlay.close()


def test_a_command_shows_as_its_label_and_words_never_as_markup(qapp: QApplication) -> None:
    overlay = Overlay()
    overlay.add_words("hello <b>bold</b> &amp;")
    overlay.apply_edit(PressEdit(Key.RETURN, "⏎ new line"))
    overlay.add_words("world")
    label = overlay.findChild(QLabel, "words")
    assert label is not None
    assert overlay.words == "hello <b>bold</b> &amp; [⏎ new line] world"
    shown = QTextDocumentFragment.fromHtml(label.text()).toPlainText()
    assert shown == "hello <b>bold</b> &amp; ⏎ new line world"
    overlay.close()
