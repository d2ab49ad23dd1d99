"""The settings dialog's backend page: where speech is recognised, its fields and secrets
(and where each comes from), the connection test and the deploy panel."""

from __future__ import annotations

from collections.abc import Mapping

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.core.credentials import FoundSecret, Secret, Source
from app.core.settings import (
    BackendKind,
    BackendSettings,
    ServerProtocol,
)
from app.ui.settings.deploy_panel import DeployPanel
from app.ui.settings.form import (
    BACKEND_LABELS,
    ENGINE_NOT_RUNNING,
    ENGINE_NOTE,
    LABEL,
    MODEL,
    PROTOCOL,
    PROTOCOL_LABELS,
    SECRET_LABELS,
    URL,
    URL_PLACEHOLDERS,
    WORKSPACE,
    BackendForm,
    visible_rows,
)
from app.ui.settings.widgets import ERROR_STYLE, error_label, show_error
from server.models import MODELS

SECRET_IN_KEYRING = "kept in the system keyring"


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

    def __init__(
        self,
        deploy: DeployPanel,
        can_test: bool,
        engine_note: str | None = None,
        parent: QWidget | None = None,
    ) -> None:
        """``engine_note``: what the local engine of this run found (device, real-time factor);
        None when the app did not start one."""
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
        self._form = self._build_form(engine_note)
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

    def _build_form(self, engine_note: str | None) -> QFormLayout:
        """The rows; which ones show depends on the backend kind (``_kind_changed``)."""
        form = QFormLayout()
        form.addRow("Backend", self.kind_combo)
        form.addRow("Server URL", self.url_edit)
        form.addRow("Workspace", self.workspace_edit)
        form.addRow("App label", self.label_edit)
        form.addRow("Model", self.model_combo)
        form.addRow("Protocol", self.protocol_combo)
        for secret, edit in self.secret_edits.items():
            form.addRow(SECRET_LABELS[secret], edit)
        self.engine_label = QLabel(engine_note or ENGINE_NOT_RUNNING)
        self.engine_label.setObjectName("engine")
        self.engine_label.setWordWrap(True)
        form.addRow("This computer", self.engine_label)
        self._rows[ENGINE_NOTE] = self.engine_label
        return form

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
