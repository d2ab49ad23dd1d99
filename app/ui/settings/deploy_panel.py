"""The settings dialog's deploy buttons: what ``kyutai-dictate deploy`` does, with its output.

Deploy to Modal (GPU, model, streams per GPU) or to a Proxmox host, list the deployed Modal
apps, stop one. The command runs as a child process (QProcess, so the dialog stays
responsive) with its output streamed into a read-only log. A deploy writes the endpoint into
the settings file itself; on success the panel reads that file back and emits
:attr:`DeployPanel.deployed`. The dialog refuses to close while a deploy runs.
"""

from __future__ import annotations

import codecs
import logging
from collections.abc import Callable, Sequence
from pathlib import Path

from PySide6.QtCore import QProcess, QProcessEnvironment, Qt, Signal
from PySide6.QtGui import QTextCursor
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from app.core.settings import SettingsError
from app.desktop import settings_store
from app.desktop.autostart import launch_command
from app.ui.settings.form import (
    clean_output,
    deploy_command,
    hide_secrets,
    last_lines,
    ssh_target_problem,
)
from server.models import DEFAULT_GPU, DEFAULT_STREAMS_PER_GPU, GPU_COMPUTE_CAPABILITY, MODELS

log = logging.getLogger(__name__)

# (target, its arguments) -> the argv to run
DeployCommand = Callable[[str, Sequence[str]], list[str]]
MODAL, PROXMOX, STATUS, STOP = "modal", "proxmox", "status", "stop"
DEPLOYS = (MODAL, PROXMOX)  # the targets that produce an endpoint
LOG_LINES = 2000


class DeployPanel(QWidget):
    deployed = Signal(object)  # the Settings read back from the settings file
    running_changed = Signal(bool)

    def __init__(
        self,
        config_path: Path | None,
        command: DeployCommand | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self._config_path = config_path
        self._command = command or (
            lambda target, args: deploy_command(target, args, config_path, launch_command())
        )
        self._process: QProcess | None = None
        self._decoder = codecs.getincrementaldecoder("utf-8")("replace")
        self._output = ""
        self._partial = ""  # the start of a line not complete yet
        self._target = MODAL

        self.modal_button = QPushButton("Deploy to Modal…")
        self.modal_button.setToolTip(
            "Build and deploy the backend on Modal (needs `modal token new` once; the first "
            "build takes 15-30 minutes)"
        )
        self.proxmox_button = QPushButton("Deploy to Proxmox…")
        self.proxmox_button.setToolTip(
            "Install the backend in an LXC container on a Proxmox host with a GPU, over ssh"
        )
        self.host_edit = QLineEdit()
        self.host_edit.setPlaceholderText("USER@HOST, e.g. root@pve")
        self._add_modal_options()
        self.status_label = QLabel()
        self.status_label.setWordWrap(True)
        self.status_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.log_view = QPlainTextEdit()
        self.log_view.setReadOnly(True)
        self.log_view.setMaximumBlockCount(LOG_LINES)
        self.log_view.setPlaceholderText("The deploy's progress appears here.")
        self.log_view.setMinimumHeight(90)

        modal = QHBoxLayout()
        modal.addWidget(self.modal_button)
        for widget in (self.gpu_box, self.model_box, QLabel("streams"), self.batch_box):
            modal.addWidget(widget)
        modal.addStretch(1)
        modal.addWidget(self.status_button)
        modal.addWidget(self.stop_button)
        proxmox = QHBoxLayout()
        proxmox.addWidget(self.proxmox_button)
        proxmox.addWidget(self.host_edit, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(modal)
        layout.addLayout(proxmox)
        layout.addWidget(self.log_view, 1)
        layout.addWidget(self.status_label)

        self.modal_button.clicked.connect(self._start_modal)
        self.proxmox_button.clicked.connect(self._start_proxmox)
        self.status_button.clicked.connect(lambda: self.start(STATUS, []))
        self.stop_button.clicked.connect(lambda: self.start(STOP, []))

    def _add_modal_options(self) -> None:
        """The Modal deploy's choices (GPU, model, streams per GPU) and its app buttons."""
        self.gpu_box = QComboBox()
        self.gpu_box.addItems(list(GPU_COMPUTE_CAPABILITY))
        self.gpu_box.setCurrentText(DEFAULT_GPU)
        self.gpu_box.setToolTip("Modal GPU type")
        self.model_box = QComboBox()
        for model in MODELS.values():
            self.model_box.addItem(model.name, model.repo)
        self.model_box.setToolTip("stt-1b-en_fr: English and French, 0.5 s delay, end of speech "
                                  "detection; stt-2.6b-en: English, 2.5 s delay")  # fmt: skip
        self.batch_box = QSpinBox()
        self.batch_box.setRange(1, 64)
        self.batch_box.setValue(DEFAULT_STREAMS_PER_GPU)
        self.batch_box.setToolTip("Streams per GPU; more start more containers")
        self.status_button = QPushButton("Modal apps")
        self.status_button.setToolTip("List the deployed Modal apps (kyutai-dictate deploy status)")
        self.stop_button = QPushButton("Stop the Modal app")
        self.stop_button.setToolTip("Stop the kyutai-dictate app on Modal (deploy stop)")

    @property
    def running(self) -> bool:
        return self._process is not None

    @property
    def output(self) -> str:
        """Everything the current or last deploy printed."""
        return self._output

    def set_status(self, text: str, error: bool = False) -> None:
        self.status_label.setText(text)
        self.status_label.setStyleSheet("color: #b91c1c;" if error else "")

    def start(self, target: str, args: Sequence[str]) -> None:
        """Run ``deploy TARGET ARGS``; its output goes to the log."""
        if self._process is not None:
            return
        argv = self._command(target, args)
        self._target = target
        self._output = self._partial = ""
        self._decoder.reset()
        self.log_view.clear()
        doing = {MODAL: "Deploying to Modal", PROXMOX: f"Deploying to {' '.join(args[1:])}",
                 STATUS: "Asking Modal", STOP: "Stopping the Modal app"}  # fmt: skip
        self.set_status(f"{doing[target]}…")
        process = QProcess(self)
        process.setProcessChannelMode(QProcess.ProcessChannelMode.MergedChannels)
        environment = QProcessEnvironment.systemEnvironment()
        environment.insert("PYTHONUNBUFFERED", "1")  # progress lines as they happen
        process.setProcessEnvironment(environment)
        process.readyReadStandardOutput.connect(self._read)
        process.finished.connect(self._finished)
        process.errorOccurred.connect(self._failed_to_start)
        self._process = process
        self._set_running(True)
        log.info("deploy: running %s", argv)
        process.start(argv[0], argv[1:])

    def stop(self) -> None:
        """Stop a running deploy (when the dialog closes)."""
        process, self._process = self._process, None
        if process is None:
            return
        process.finished.disconnect(self._finished)
        process.errorOccurred.disconnect(self._failed_to_start)
        process.kill()
        process.waitForFinished(3000)
        self._set_running(False)
        self.set_status("The deploy was stopped.", error=True)

    def _start_modal(self) -> None:
        options = ["--gpu", self.gpu_box.currentText(), "--model", self.model_box.currentData()]
        self.start(MODAL, [*options, "--batch-size", str(self.batch_box.value())])

    def _start_proxmox(self) -> None:
        problem = ssh_target_problem(self.host_edit.text())
        if problem:
            self.set_status(problem, error=True)
            self.host_edit.setFocus()
            return
        self.start(PROXMOX, ["--host", self.host_edit.text().strip()])

    def _read(self, final: bool = False) -> None:
        """Show the output that came, by whole lines (a token line is hidden whole)."""
        if self._process is None:
            return
        data = bytes(self._process.readAllStandardOutput().data())
        text = self._partial + self._decoder.decode(data, final=final)
        if final:
            self._partial = ""
            self._append(text)
            return
        cut = text.rfind("\n") + 1
        self._partial = text[cut:]
        self._append(text[:cut])

    def _append(self, text: str) -> None:
        if not text:
            return
        text = hide_secrets(clean_output(text))
        self._output += text
        cursor = self.log_view.textCursor()
        cursor.movePosition(QTextCursor.MoveOperation.End)
        cursor.insertText(text)
        self.log_view.setTextCursor(cursor)
        self.log_view.ensureCursorVisible()

    def _finished(self, exit_code: int, exit_status: QProcess.ExitStatus) -> None:
        self._read(final=True)
        self._process = None
        self._set_running(False)
        if exit_status is not QProcess.ExitStatus.NormalExit or exit_code != 0:
            how = "crashed" if exit_status is not QProcess.ExitStatus.NormalExit else exit_code
            detail = last_lines(self._output) or "(no output)"
            self.set_status(f"It failed ({how}):\n{detail}", error=True)
            return
        if self._target not in DEPLOYS:
            self.set_status("Done.")
            return
        try:
            settings = settings_store.load(self._config_path)
        except SettingsError as exc:
            self.set_status(f"Deployed, but the settings cannot be read back: {exc}", True)
            return
        self.set_status("Deployed.")
        self.deployed.emit(settings)

    def _failed_to_start(self, error: QProcess.ProcessError) -> None:
        if error is not QProcess.ProcessError.FailedToStart or self._process is None:
            return
        message = self._process.errorString()
        self._process = None
        self._set_running(False)
        self.set_status(f"The deploy could not start: {message}", error=True)

    def _set_running(self, running: bool) -> None:
        widgets = (
            *(self.modal_button, self.proxmox_button, self.host_edit, self.gpu_box),
            *(self.model_box, self.batch_box, self.status_button, self.stop_button),
        )
        for widget in widgets:
            widget.setEnabled(not running)
        self.running_changed.emit(running)
