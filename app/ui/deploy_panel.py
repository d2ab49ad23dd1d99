"""The settings dialog's deploy buttons: run ``kyutai-dictate deploy`` and show its output.

The command runs as a child process (QProcess, so the dialog stays responsive) with its output
streamed into a read-only log. It writes the deployed endpoint into the settings file itself;
on success the panel reads that file back and emits :attr:`DeployPanel.deployed`.
Closing the dialog while a deploy runs stops it (the deploy scripts are idempotent: deploying
again picks up where it stopped).
"""

from __future__ import annotations

import codecs
import logging
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QProcess, QProcessEnvironment, Qt, Signal
from PySide6.QtGui import QTextCursor
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app import settings_store
from app.settings import SettingsError
from app.ui.settings_form import (
    clean_output,
    deploy_command,
    hide_secrets,
    last_lines,
    ssh_target_problem,
)

log = logging.getLogger(__name__)

# (target, USER@HOST or None) -> the argv to run
DeployCommand = Callable[[str, str | None], list[str]]
MODAL, PROXMOX = "modal", "proxmox"
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
        self._command = command or (lambda target, host: deploy_command(target, host, config_path))
        self._process: QProcess | None = None
        self._decoder = codecs.getincrementaldecoder("utf-8")("replace")
        self._output = ""
        self._partial = ""  # the start of a line not complete yet

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
        self.status_label = QLabel()
        self.status_label.setWordWrap(True)
        self.status_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.log_view = QPlainTextEdit()
        self.log_view.setReadOnly(True)
        self.log_view.setMaximumBlockCount(LOG_LINES)
        self.log_view.setPlaceholderText("The deploy's progress appears here.")
        self.log_view.setMinimumHeight(90)

        buttons = QHBoxLayout()
        buttons.addWidget(self.modal_button)
        buttons.addSpacing(12)
        buttons.addWidget(self.proxmox_button)
        buttons.addWidget(self.host_edit, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(buttons)
        layout.addWidget(self.log_view, 1)
        layout.addWidget(self.status_label)

        self.modal_button.clicked.connect(lambda: self.start(MODAL, None))
        self.proxmox_button.clicked.connect(self._start_proxmox)

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

    def start(self, target: str, host: str | None) -> None:
        """Run the deploy to ``target``; its output goes to the log."""
        if self._process is not None:
            return
        argv = self._command(target, host)
        self._output = self._partial = ""
        self._decoder.reset()
        self.log_view.clear()
        self.set_status(f"Deploying to {'Modal' if target == MODAL else host}…")
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

    def _start_proxmox(self) -> None:
        problem = ssh_target_problem(self.host_edit.text())
        if problem:
            self.set_status(problem, error=True)
            self.host_edit.setFocus()
            return
        self.start(PROXMOX, self.host_edit.text().strip())

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
            self.set_status(f"The deploy failed ({how}):\n{detail}", error=True)
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
        for widget in (self.modal_button, self.proxmox_button, self.host_edit):
            widget.setEnabled(not running)
        self.running_changed.emit(running)
