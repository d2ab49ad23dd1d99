"""The settings dialog's pages: backend, dictation, microphone, overlay and startup.

Each page shows part of the settings and hands back what the user typed; the dialog turns
that into :class:`~app.core.settings.Settings` (with :mod:`app.ui.settings.form`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QHideEvent, QShowEvent
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QSlider,
    QVBoxLayout,
    QWidget,
)

from app.audio.level_meter import LevelSource, level_percent
from app.audio.microphone import InputDevice, MicrophoneError
from app.core.credentials import FoundSecret, Secret, Source
from app.core.settings import (
    BackendKind,
    BackendSettings,
    DictationSettings,
    HotkeyMode,
    OverlaySettings,
    ServerProtocol,
    StartupSettings,
    TypingMethod,
)
from app.ui.settings.deploy_panel import DeployPanel
from app.ui.settings.form import (
    BACKEND_LABELS,
    LABEL,
    MODE_LABELS,
    MODEL,
    PROTOCOL,
    PROTOCOL_LABELS,
    SECRET_LABELS,
    TYPING_LABELS,
    URL,
    URL_PLACEHOLDERS,
    WORKSPACE,
    BackendForm,
    device_index,
    hotkey_problem,
    microphone_choices,
    opacity_from_slider,
    opacity_percent,
    visible_rows,
)
from server.models import MODELS

ERROR_STYLE = "color: #b91c1c;"
SECRET_IN_KEYRING = "kept in the system keyring"
METER_INTERVAL_MS = 66  # about 15 updates a second
METER_DECAY = 8  # how fast the bar falls back, in percent per update


def error_label() -> QLabel:
    """A label for inline errors: red, wrapped, selectable, hidden while empty."""
    label = QLabel()
    label.setWordWrap(True)
    label.setStyleSheet(ERROR_STYLE)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    label.hide()
    return label


def show_error(label: QLabel, text: str | None) -> None:
    label.setText(text or "")
    label.setVisible(bool(text))


def _model_combo() -> QComboBox:
    combo = QComboBox()
    for model in MODELS.values():
        combo.addItem(model.name, model.repo)
    combo.setToolTip("The model the moshi-server serves (its config decides)")
    return combo


_PROTOCOLS: list[ServerProtocol] = list(PROTOCOL_LABELS)


def _protocol_combo() -> QComboBox:
    combo = QComboBox()
    combo.addItems([PROTOCOL_LABELS[protocol] for protocol in _PROTOCOLS])
    combo.setToolTip("This project's proxy says so when connecting; the original service does not")
    return combo


class BackendSection(QWidget):
    """Where speech is recognised: the kind, its fields and secrets, test and deploy."""

    changed = Signal()
    test_requested = Signal()

    def __init__(self, deploy: DeployPanel, can_test: bool, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._kinds = list(BACKEND_LABELS)
        self.kind_combo = QComboBox()
        self.kind_combo.setPlaceholderText("Choose where speech is recognised")
        for kind in self._kinds:
            self.kind_combo.addItem(BACKEND_LABELS[kind])
        self.url_edit = QLineEdit()
        self.workspace_edit = QLineEdit()
        self.workspace_edit.setPlaceholderText("your Modal workspace name")
        self.label_edit = QLineEdit()
        self.label_edit.setPlaceholderText(BackendSettings().modal_label)
        self.model_combo = _model_combo()
        self.protocol_combo = _protocol_combo()
        self.secret_edits: dict[Secret, QLineEdit] = {}
        for secret in Secret:
            edit = QLineEdit()
            edit.setEchoMode(QLineEdit.EchoMode.Password)
            edit.setPlaceholderText(SECRET_IN_KEYRING)
            self.secret_edits[secret] = edit
        self._rows: dict[str, QWidget] = {
            URL: self.url_edit,
            WORKSPACE: self.workspace_edit,
            LABEL: self.label_edit,
            MODEL: self.model_combo,
            PROTOCOL: self.protocol_combo,
        }
        self._rows.update({str(secret): edit for secret, edit in self.secret_edits.items()})
        self._form = QFormLayout()
        self._form.addRow("Backend", self.kind_combo)
        self._form.addRow("Server URL", self.url_edit)
        self._form.addRow("Workspace", self.workspace_edit)
        self._form.addRow("App label", self.label_edit)
        self._form.addRow("Model", self.model_combo)
        self._form.addRow("Protocol", self.protocol_combo)
        for secret, edit in self.secret_edits.items():
            self._form.addRow(SECRET_LABELS[secret], edit)
        self.problem_label = error_label()
        self.keyring_label = error_label()

        self.test_button = QPushButton("Test connection")
        self.test_button.setVisible(can_test)
        self.check_label = QLabel()
        self.check_label.setWordWrap(True)
        self.check_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        test_row = QHBoxLayout()
        test_row.addWidget(self.test_button, 0, Qt.AlignmentFlag.AlignTop)
        test_row.addWidget(self.check_label, 1)

        self.deploy = deploy
        deploy_box = QGroupBox("Deploy a backend")
        QVBoxLayout(deploy_box).addWidget(deploy)

        layout = QVBoxLayout(self)
        layout.addLayout(self._form)
        layout.addWidget(self.problem_label)
        layout.addWidget(self.keyring_label)
        layout.addLayout(test_row)
        layout.addWidget(deploy_box, 1)

        self.kind_combo.currentIndexChanged.connect(self._kind_changed)
        for edit in (self.url_edit, self.workspace_edit, self.label_edit):
            edit.textChanged.connect(self.changed)
        self.test_button.clicked.connect(self.test_requested)
        self._kind_changed()

    def kind(self) -> BackendKind | None:
        index = self.kind_combo.currentIndex()
        return self._kinds[index] if index >= 0 else None

    def set_backend(self, backend: BackendSettings) -> None:
        index = self._kinds.index(backend.kind) if backend.kind is not None else -1
        self.kind_combo.setCurrentIndex(index)
        self.url_edit.setText(backend.url)
        self.workspace_edit.setText(backend.modal_workspace)
        default_label = backend.modal_label == BackendSettings().modal_label
        self.label_edit.setText("" if default_label else backend.modal_label)
        self.model_combo.setCurrentIndex(max(0, self.model_combo.findData(backend.model)))
        self.protocol_combo.setCurrentIndex(_PROTOCOLS.index(backend.protocol))
        self._kind_changed()

    def form(self) -> BackendForm:
        return BackendForm(
            self.kind(),
            self.url_edit.text(),
            self.workspace_edit.text(),
            self.label_edit.text(),
            self.model_combo.currentData() or "",
            _PROTOCOLS[self.protocol_combo.currentIndex()],
        )

    def set_secrets(self, values: Mapping[Secret, str]) -> None:
        for secret, value in values.items():
            self.secret_edits[secret].setText(value)

    def typed_secrets(self) -> dict[Secret, str]:
        """What the enabled secret fields hold (one set by the environment is not editable)."""
        return {
            secret: edit.text() for secret, edit in self.secret_edits.items() if edit.isEnabled()
        }

    def set_secret_source(self, found: FoundSecret, can_store: bool) -> None:
        """Show where ``found`` comes from: the environment wins and cannot be edited here;
        without a keyring to store in, the field points to the environment."""
        edit = self.secret_edits[found.secret]
        from_env = found.source is Source.ENVIRONMENT
        edit.setEnabled(can_store and not from_env)
        if from_env:
            edit.setPlaceholderText(f"set by {found.secret.env_name} in the environment")
        elif not can_store:
            edit.setPlaceholderText(f"no secure keyring: set {found.secret.env_name}")
        else:
            edit.setPlaceholderText(SECRET_IN_KEYRING)
        where = found.where()
        edit.setToolTip(
            f"{where[:1].upper()}{where[1:]}. {found.secret.env_name} in the app's environment "
            "overrides what is saved here."
        )

    def show_keyring_note(self, text: str, error: bool) -> None:
        self.keyring_label.setStyleSheet(ERROR_STYLE if error else "")
        show_error(self.keyring_label, text)

    def show_check(self, text: str, error: bool = False) -> None:
        self.check_label.setText(text)
        self.check_label.setStyleSheet(ERROR_STYLE if error else "")

    def _kind_changed(self) -> None:
        kind = self.kind()
        shown = visible_rows(kind)
        for name, widget in self._rows.items():
            self._form.setRowVisible(widget, name in shown)
        if kind in URL_PLACEHOLDERS:
            self.url_edit.setPlaceholderText(URL_PLACEHOLDERS[kind])
        self.test_button.setEnabled(kind is not None)
        self.changed.emit()


class DictationSection(QWidget):
    """The hotkey, its mode, and how words are typed."""

    changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
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
        form = QFormLayout(self)
        form.addRow("Hotkey", self.hotkey_edit)
        form.addRow("", self.hotkey_error)
        form.addRow("Mode", self.mode_combo)
        form.addRow("Typing", self.typing_combo)
        form.addRow("", self.leading_space)
        form.addRow("", self.focus_guard)
        self.hotkey_edit.textChanged.connect(self._hotkey_changed)

    def set_values(self, dictation: DictationSettings) -> None:
        self.hotkey_edit.setText(dictation.hotkey)
        self.mode_combo.setCurrentIndex(self._modes.index(dictation.mode))
        self.typing_combo.setCurrentIndex(self._methods.index(dictation.typing))
        self.leading_space.setChecked(dictation.leading_space)
        self.focus_guard.setChecked(dictation.focus_guard)
        self._hotkey_changed()

    def values(self, original: DictationSettings) -> DictationSettings:
        return replace(
            original,
            hotkey=self.hotkey_edit.text().strip(),
            mode=self.mode(),
            typing=self.typing(),
            leading_space=self.leading_space.isChecked(),
            focus_guard=self.focus_guard.isChecked(),
        )

    def mode(self) -> HotkeyMode:
        return self._modes[self.mode_combo.currentIndex()]

    def typing(self) -> TypingMethod:
        return self._methods[self.typing_combo.currentIndex()]

    def problem(self) -> str | None:
        problem = hotkey_problem(self.hotkey_edit.text())
        return f"Hotkey {problem}" if problem else None

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
