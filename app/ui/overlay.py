"""The caption overlay: the live words of the dictation and its state, on top of everything.

It never takes the focus or the keyboard (typing goes to the window the user works in), but
it takes the mouse: drag it anywhere, resize it from the corner; where it ends up is reported
through ``geometry_changed`` so the app can remember it. Words that could not be typed (focus
moved, typing failed) are shown with "Type" and "Copy" buttons.
"""

from __future__ import annotations

import html

from PySide6.QtCore import QPoint, QRect, Qt, QTimer, Signal
from PySide6.QtGui import QGuiApplication, QMouseEvent, QMoveEvent, QResizeEvent
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSizeGrip,
    QVBoxLayout,
    QWidget,
)

from app.core.captions import Captions
from app.core.placement import fit_on_screen
from app.core.shortcuts import OVERLAY_TITLE
from app.core.status import Look
from app.core.voice_edits import Edit, TypeEdit

_COMMAND_COLOUR = "#93c5fd"
_COLOURS = {
    Look.IDLE: "#9ca3af",
    Look.CONNECTING: "#f59e0b",
    Look.LISTENING: "#ef4444",
    Look.FINISHING: "#60a5fa",
    Look.ERROR: "#f87171",
}


class Overlay(QWidget):
    geometry_changed = Signal(tuple)  # (x, y, width, height), once the user stops moving it
    type_held = Signal()
    copy_held = Signal()

    def __init__(self, opacity: float = 0.85, show_latency: bool = False) -> None:
        super().__init__(
            None,
            Qt.WindowType.Tool
            | Qt.WindowType.FramelessWindowHint
            | Qt.WindowType.WindowStaysOnTopHint
            | Qt.WindowType.WindowDoesNotAcceptFocus,
        )
        self.setObjectName("overlay")
        self.setWindowTitle(OVERLAY_TITLE)  # the compositor rules match it
        self.setAttribute(Qt.WidgetAttribute.WA_ShowWithoutActivating)
        self.setAttribute(Qt.WidgetAttribute.WA_TranslucentBackground)
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self._show_latency = show_latency
        self._captions = Captions()
        self._drag_from: QPoint | None = None
        self._build(QFrame(self))
        self.set_opacity(opacity)

        self._settled = QTimer(self)  # one shot: report the geometry once moving stops
        self._settled.setSingleShot(True)
        self._settled.setInterval(400)
        self._settled.timeout.connect(self._report_geometry)
        self.resize(640, 120)

    def _build(self, panel: QFrame) -> None:
        panel.setObjectName("panel")
        self._state = QLabel(panel)
        self._state.setObjectName("state")
        self._state.setWordWrap(True)  # a long error wraps rather than widen the overlay
        self._latency = QLabel(panel)
        self._latency.setObjectName("latency")
        self._latency.setVisible(self._show_latency)
        self._words = QLabel(panel)
        self._words.setObjectName("words")
        self._words.setWordWrap(True)
        self._words.setTextFormat(Qt.TextFormat.RichText)  # escaped: see _render_words
        self._words.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignBottom)
        self._held = QLabel(panel)
        self._held.setObjectName("held")
        self._held.setWordWrap(True)
        type_button = QPushButton("Type here", panel)
        copy_button = QPushButton("Copy", panel)
        for button in (type_button, copy_button):
            button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        type_button.clicked.connect(self.type_held)
        copy_button.clicked.connect(self.copy_held)
        self._held_bar = QWidget(panel)
        held_row = QHBoxLayout(self._held_bar)
        held_row.setContentsMargins(0, 0, 0, 0)
        held_row.addWidget(self._held, 1)
        held_row.addWidget(type_button)
        held_row.addWidget(copy_button)
        self._held_bar.hide()

        top = QHBoxLayout()
        top.addWidget(self._state, 1)
        top.addWidget(self._latency)
        grip_row = QHBoxLayout()
        grip_row.addStretch(1)
        grip_row.addWidget(QSizeGrip(panel), 0, Qt.AlignmentFlag.AlignRight)
        inner = QVBoxLayout(panel)
        inner.setContentsMargins(14, 8, 6, 4)
        inner.addLayout(top)
        inner.addWidget(self._words, 1)
        inner.addWidget(self._held_bar)
        inner.addLayout(grip_row)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(panel)

    # -- what the app tells it -----------------------------------------------------------

    def place(self, geometry: tuple[int, ...]) -> None:
        """Put it where the user left it (brought whole onto the screen, whatever the screen's
        size now), or at the bottom centre of the screen."""
        screen = _screen_rect()
        if len(geometry) == 4:
            x, y, width, height = geometry
            self.setGeometry(QRect(*fit_on_screen((x, y, width, height), screen)))
            return
        sx, sy, s_width, s_height = screen
        width, height = min(720, s_width - 40), 120
        self.setGeometry(sx + (s_width - width) // 2, sy + s_height - height - 60, width, height)

    def set_opacity(self, opacity: float) -> None:
        alpha = max(40, min(255, round(opacity * 255)))
        self.setStyleSheet(
            f"#panel {{ background: rgba(17, 24, 39, {alpha}); border-radius: 10px; }}"
            "#words { color: white; font-size: 17px; }"
            "#state, #latency { color: #9ca3af; font-size: 11px; }"
            "#held { color: #fbbf24; font-size: 12px; }"
        )

    def set_show_latency(self, show: bool) -> None:
        self._show_latency = show
        self._latency.setVisible(show)

    def set_state(self, look: Look, text: str) -> None:
        self._state.setText(f"<span style='color:{_COLOURS[look]}'>●</span> {text}")
        self._keep_on_screen()

    def clear_words(self) -> None:
        self._captions.clear()
        self._words.setText("")
        self._latency.setText("")

    def add_words(self, text: str) -> None:
        self.apply_edit(TypeEdit(text))

    def apply_edit(self, edit: Edit) -> None:
        """Words typed, words scratched, or a command shown as its label ("⏎ new line")."""
        self._captions.apply(edit)
        self._words.setText(
            "".join(
                f"<span style='color:{_COMMAND_COLOUR}'> {html.escape(part.text)} </span>"
                if part.command
                else html.escape(part.text).replace("\n", "<br>")
                for part in self._captions.parts
            )
        )

    def set_latency(self, seconds: float) -> None:
        if self._show_latency:
            self._latency.setText(f"{seconds * 1000:.0f} ms behind")

    def set_held(self, text: str, why: str) -> None:
        """Words kept back; empty ``text`` hides the bar."""
        self._held.setText(f"{why}. Not typed: “{text}”" if text else "")
        self._held_bar.setVisible(bool(text))
        self._keep_on_screen()

    @property
    def words(self) -> str:
        """The caption as plain text, commands as ``[label]``."""
        return self._captions.plain

    @property
    def has_held(self) -> bool:
        return self._held_bar.isVisibleTo(self)

    # -- the user moving and resizing it -------------------------------------------------

    def mousePressEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton:
            self._drag_from = event.globalPosition().toPoint() - self.frameGeometry().topLeft()

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        if self._drag_from is not None:
            self.move(event.globalPosition().toPoint() - self._drag_from)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        self._drag_from = None

    def moveEvent(self, event: QMoveEvent) -> None:
        super().moveEvent(event)
        if self.isVisible():
            self._settled.start()

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        if self.isVisible():
            self._settled.start()

    def _keep_on_screen(self) -> None:
        """Grow to fit wrapped text if needed, and stay whole on the screen."""
        layout = self.layout()
        assert layout is not None
        layout.activate()  # the size the new text needs, now rather than at the next show
        g = self.geometry()
        height = max(g.height(), self.heightForWidth(g.width()), self.minimumSizeHint().height())
        rect = fit_on_screen((g.x(), g.y(), g.width(), height), _screen_rect())
        if rect != (g.x(), g.y(), g.width(), g.height()):
            self.setGeometry(QRect(*rect))

    def _report_geometry(self) -> None:
        g = self.geometry()
        self.geometry_changed.emit((g.x(), g.y(), g.width(), g.height()))


def _screen_rect() -> tuple[int, int, int, int]:
    """The primary screen's area without panels."""
    area = QGuiApplication.primaryScreen().availableGeometry()
    return area.x(), area.y(), area.width(), area.height()
