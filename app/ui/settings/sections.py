"""The settings dialog's other pages: dictation, microphone, overlay and startup (the backend
page is :mod:`app.ui.settings.backend_page`).

Each page shows part of the settings and hands back what the user typed; the dialog turns
that into :class:`~app.core.settings.Settings` (with :mod:`app.ui.settings.form`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QHideEvent, QShowEvent
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QSlider,
    QVBoxLayout,
    QWidget,
)

from app.audio.level_meter import LevelSource, level_percent
from app.audio.microphone import InputDevice, MicrophoneError
from app.core.settings import (
    DictationSettings,
    HotkeyMode,
    OverlaySettings,
    StartupSettings,
    TypingMethod,
)
from app.ui.settings.form import (
    HANDS_FREE_NOTE,
    MODE_LABELS,
    TYPING_LABELS,
    device_index,
    hotkey_problem,
    microphone_choices,
    opacity_from_slider,
    opacity_percent,
)
from app.ui.settings.widgets import ERROR_STYLE, error_label, show_error

METER_INTERVAL_MS = 66  # about 15 updates a second
METER_DECAY = 8  # how fast the bar falls back, in percent per update


class DictationSection(QWidget):
    """The hotkey, its mode, and how words are typed."""

    changed = Signal()

    def __init__(self, focus_note: str | None = None, parent: QWidget | None = None) -> None:
        """``focus_note``: why the focus guard cannot work on this desktop (None: it can)."""
        super().__init__(parent)
        self._modes = list(MODE_LABELS)
        self._methods = list(TYPING_LABELS)
        self.hotkey_edit = QLineEdit()
        self.hotkey_edit.setPlaceholderText("<f9> or <ctrl>+<alt>+d")
        self.hotkey_error = error_label()
        self.mode_combo = QComboBox()
        self.mode_combo.addItems([MODE_LABELS[mode] for mode in self._modes])
        self.typing_combo = QComboBox()
        self.typing_combo.addItems([TYPING_LABELS[method] for method in self._methods])
        self.leading_space = QCheckBox("Start each dictation with a space")
        self.focus_guard = QCheckBox("Pause typing when the focus leaves the window it started in")
        self.silence_spin = QDoubleSpinBox()
        self.silence_spin.setRange(0.3, 10.0)
        self.silence_spin.setSingleStep(0.1)
        self.silence_spin.setSuffix(" s of silence")
        self.hands_free_note = QLabel(HANDS_FREE_NOTE)
        self.hands_free_note.setWordWrap(True)
        self.paste_fallback = QCheckBox("Paste through the clipboard when nothing else can type")
        form = QFormLayout(self)
        form.addRow("Hotkey", self.hotkey_edit)
        form.addRow("", self.hotkey_error)
        form.addRow("Mode", self.mode_combo)
        form.addRow("Hands-free stops after", self.silence_spin)
        form.addRow("", self.hands_free_note)
        form.addRow("Typing", self.typing_combo)
        form.addRow("", self.leading_space)
        form.addRow("", self.focus_guard)
        form.addRow("", self.paste_fallback)
        self.focus_note = QLabel(focus_note or "")
        self.focus_note.setWordWrap(True)
        self.focus_note.setVisible(bool(focus_note))
        self.focus_guard.setEnabled(not focus_note)
        form.addRow("", self.focus_note)
        self.hotkey_edit.textChanged.connect(self._hotkey_changed)
        self.mode_combo.currentIndexChanged.connect(self._mode_changed)

    def set_values(self, dictation: DictationSettings) -> None:
        self.hotkey_edit.setText(dictation.hotkey)
        self.mode_combo.setCurrentIndex(self._modes.index(dictation.mode))
        self.typing_combo.setCurrentIndex(self._methods.index(dictation.typing))
        self.leading_space.setChecked(dictation.leading_space)
        self.focus_guard.setChecked(dictation.focus_guard)
        self.silence_spin.setValue(dictation.hands_free_silence)
        self.paste_fallback.setChecked(dictation.paste_fallback)
        self._hotkey_changed()
        self._mode_changed()

    def values(self, original: DictationSettings) -> DictationSettings:
        return replace(
            original,
            hotkey=self.hotkey_edit.text().strip(),
            mode=self.mode(),
            typing=self.typing(),
            leading_space=self.leading_space.isChecked(),
            focus_guard=self.focus_guard.isChecked(),
            hands_free_silence=round(self.silence_spin.value(), 2),
            paste_fallback=self.paste_fallback.isChecked(),
        )

    def mode(self) -> HotkeyMode:
        return self._modes[self.mode_combo.currentIndex()]

    def typing(self) -> TypingMethod:
        return self._methods[self.typing_combo.currentIndex()]

    def problem(self) -> str | None:
        problem = hotkey_problem(self.hotkey_edit.text())
        return f"Hotkey {problem}" if problem else None

    def _mode_changed(self) -> None:
        hands_free = self.mode() is HotkeyMode.HANDS_FREE
        self.silence_spin.setEnabled(hands_free)
        self.hands_free_note.setVisible(hands_free)

    def _hotkey_changed(self) -> None:
        show_error(self.hotkey_error, hotkey_problem(self.hotkey_edit.text()))
        self.changed.emit()


class MicrophoneSection(QWidget):
    """The input device (by name) and its live level while this page is on screen."""

    def __init__(
        self,
        devices: Sequence[InputDevice],
        saved: str,
        meter: LevelSource,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self._devices = list(devices)
        self._meter = meter
        self._metering = False
        items, selected = microphone_choices(self._devices, saved)
        self.device_combo = QComboBox()
        for label, name in items:
            self.device_combo.addItem(label, name)
        self.device_combo.setCurrentIndex(selected)
        self.level_bar = QProgressBar()
        self.level_bar.setRange(0, 100)
        self.level_bar.setTextVisible(False)
        self.meter_label = QLabel()
        self.meter_label.setWordWrap(True)
        self._timer = QTimer(self)
        self._timer.setInterval(METER_INTERVAL_MS)
        self._timer.timeout.connect(self._tick)
        form = QFormLayout(self)
        form.addRow("Microphone", self.device_combo)
        form.addRow("Level", self.level_bar)
        form.addRow("", self.meter_label)
        self.device_combo.currentIndexChanged.connect(self._device_changed)

    @property
    def metering(self) -> bool:
        return self._metering

    def device_name(self) -> str:
        """The chosen device's name ("" for the system default)."""
        return str(self.device_combo.currentData() or "")

    def start_meter(self) -> None:
        """Open the chosen device and follow its level (errors are shown, not raised)."""
        self.stop_meter()
        name = self.device_name()
        index = device_index(self._devices, name)
        if name and index is None:
            self._show_meter_text(f"{name} is not connected now.", error=True)
            return
        try:
            self._meter.open(index)
        except MicrophoneError as exc:
            self._show_meter_text(str(exc), error=True)
            return
        self._show_meter_text("Speak to see the level.")
        self._metering = True
        self._timer.start()

    def stop_meter(self) -> None:
        self._timer.stop()
        if self._metering:
            self._meter.close()
            self._metering = False
        self.level_bar.setValue(0)

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        self.start_meter()

    def hideEvent(self, event: QHideEvent) -> None:
        self.stop_meter()
        super().hideEvent(event)

    def _device_changed(self) -> None:
        if self.isVisible():
            self.start_meter()

    def _tick(self) -> None:
        level = level_percent(self._meter.take_peak())
        self.level_bar.setValue(max(level, self.level_bar.value() - METER_DECAY))

    def _show_meter_text(self, text: str, error: bool = False) -> None:
        self.meter_label.setText(text)
        self.meter_label.setStyleSheet(ERROR_STYLE if error else "")


class OverlaySection(QWidget):
    """The caption overlay and start at login."""

    def __init__(self, autostart_supported: bool, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._autostart_supported = autostart_supported
        self.show_check = QCheckBox("Show the captions while dictating")
        self.latency_check = QCheckBox("Show how far the words are behind the voice")
        self.opacity_slider = QSlider(Qt.Orientation.Horizontal)
        self.opacity_slider.setRange(20, 100)
        self.opacity_value = QLabel()
        self.at_login_check = QCheckBox("Start Kyutai Dictate when I log in")
        opacity = QHBoxLayout()
        opacity.addWidget(self.opacity_slider, 1)
        opacity.addWidget(self.opacity_value)
        overlay_box = QGroupBox("Captions")
        overlay_form = QFormLayout(overlay_box)
        overlay_form.addRow(self.show_check)
        overlay_form.addRow(self.latency_check)
        overlay_form.addRow("Opacity", opacity)
        startup_box = QGroupBox("Startup")
        QVBoxLayout(startup_box).addWidget(self.at_login_check)
        layout = QVBoxLayout(self)
        layout.addWidget(overlay_box)
        layout.addWidget(startup_box)
        layout.addStretch(1)
        self.opacity_slider.valueChanged.connect(
            lambda value: self.opacity_value.setText(f"{value} %")
        )

    def set_values(self, overlay: OverlaySettings, startup: StartupSettings) -> None:
        self.show_check.setChecked(overlay.show)
        self.latency_check.setChecked(overlay.latency)
        self.opacity_slider.setValue(opacity_percent(overlay.opacity))
        self.opacity_value.setText(f"{self.opacity_slider.value()} %")
        self.at_login_check.setChecked(startup.at_login)
        if not self._autostart_supported and not startup.at_login:
            self.at_login_check.setEnabled(False)
            self.at_login_check.setToolTip("Not supported yet on this system")

    def values(
        self, overlay: OverlaySettings, startup: StartupSettings
    ) -> tuple[OverlaySettings, StartupSettings]:
        opacity = opacity_from_slider(self.opacity_slider.value(), overlay.opacity)
        return (
            replace(
                overlay,
                show=self.show_check.isChecked(),
                latency=self.latency_check.isChecked(),
                opacity=opacity,
            ),
            replace(startup, at_login=self.at_login_check.isChecked()),
        )
