"""The settings dialog: backend (with test and deploy), dictation, microphone, overlay, startup.

It renders a :class:`~app.core.settings.Settings` and, when the user presses Save, stores the
secrets typed into it through ``store_secret`` and emits :attr:`SettingsDialog.saved` with the
new settings; it writes no settings file itself (the app does, and applies start at login).
Secrets are never part of the emitted settings. Cancel discards everything.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace
from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QPushButton,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from app.audio.level_meter import LevelSource
from app.audio.microphone import InputDevice
from app.core.credentials import Secret, SecretLookup, Source
from app.core.settings import BackendSettings, Settings
from app.core.voice_edits import Rule
from app.desktop.secret_store import SecretStoreError
from app.ui.settings.backend_page import BackendSection
from app.ui.settings.deploy_panel import DeployCommand, DeployPanel
from app.ui.settings.form import (
    FIRST_RUN_TEXT,
    backend_from_form,
    backend_problem,
    deployed_message,
    keyring_note,
    secrets_to_delete,
    secrets_to_store,
)
from app.ui.settings.history_page import HistorySection
from app.ui.settings.sections import DictationSection, MicrophoneSection, OverlaySection
from app.ui.settings.voice_page import VoiceSection
from app.ui.settings.widgets import error_label, show_error

log = logging.getLogger(__name__)

StoreSecret = Callable[[Secret, str], None]
DeleteSecret = Callable[[Secret], None]
# (the backend in the form, the secrets in the form) -> a line saying how the check went
Check = Callable[[BackendSettings, dict[Secret, str]], Awaitable[str]]


class SettingsDialog(QDialog):
    saved = Signal(object)  # the new Settings, once its secrets are stored
    rules_saved = Signal(object)  # the replacement rules (list[Rule]), when they changed

    def __init__(
        self,
        settings: Settings,
        *,
        find_secret: SecretLookup,
        store_secret: StoreSecret,
        delete_secret: DeleteSecret | None = None,
        keyring_refusal: str | None = None,
        devices: Sequence[InputDevice],
        check: Check | None,
        first_run: bool = False,
        config_path: Path | None = None,
        deploy_command: DeployCommand | None = None,
        meter: LevelSource,
        autostart_supported: bool,
        rules: Sequence[Rule] = (),
        focus_guard_note: str | None = None,
        engine_note: str | None = None,
        parent: QWidget | None = None,
    ) -> None:
        """``find_secret`` says where each secret comes from (environment or keyring);
        ``keyring_refusal`` names the unsafe keyring that secrets cannot be stored in, if so;
        ``check`` runs "Test connection" (None hides the button); ``config_path`` is the
        settings file a deploy updates; ``deploy_command`` replaces the deploy command line
        (tests); ``meter`` shows the microphone's level; ``autostart_supported``: whether start
        at login works here; ``rules`` are the replacement rules the voice page edits;
        ``focus_guard_note``: why the focus guard is off here, if it is; ``engine_note``: what
        the local engine of this run found (device, real-time factor), if one runs."""
        super().__init__(parent)
        self.setWindowTitle("Set up Kyutai Dictate" if first_run else "Kyutai Dictate settings")
        self._settings = settings
        self._store_secret = store_secret
        self._delete_secret = delete_secret
        self._find_secret = find_secret
        self._keyring_refusal = keyring_refusal
        self._check = check
        self._check_task: asyncio.Future[None] | None = None

        self.deploy = DeployPanel(config_path, deploy_command)
        self.backend = BackendSection(
            self.deploy, can_test=check is not None, engine_note=engine_note
        )
        self.dictation = DictationSection(focus_guard_note)
        self.microphone = MicrophoneSection(devices, settings.dictation.microphone, meter)
        self.overlay = OverlaySection(autostart_supported)
        self.voice = VoiceSection()
        self._rules = list(rules)
        self.history = HistorySection()
        self.tabs = QTabWidget()
        self.tabs.addTab(self.backend, "Backend")
        self.tabs.addTab(self.dictation, "Dictation")
        self.tabs.addTab(self.microphone, "Microphone")
        self.tabs.addTab(self.voice, "Voice commands")
        self.tabs.addTab(self.overlay, "Overlay and startup")
        self.tabs.addTab(self.history, "History and sounds")

        self.header = QLabel(FIRST_RUN_TEXT)
        self.header.setWordWrap(True)
        self.header.setVisible(first_run)
        self.error_label = error_label()
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel
        )
        save = self.buttons.button(QDialogButtonBox.StandardButton.Save)
        assert save is not None
        self.save_button: QPushButton = save
        layout = QVBoxLayout(self)
        layout.addWidget(self.header)
        layout.addWidget(self.tabs, 1)
        layout.addWidget(self.error_label)
        layout.addWidget(self.buttons)

        self._loaded = self._load_secrets()
        self.backend.set_backend(settings.backend)
        self.backend.set_secrets(self._loaded)
        self.dictation.set_values(settings.dictation)
        self.overlay.set_values(settings.overlay, settings.startup)
        self.voice.set_values(settings.voice, self._rules)
        self.history.set_values(settings.history, settings.sounds)
        self.tabs.setCurrentWidget(self.backend)

        self._wire()
        self._validate()

    def _wire(self) -> None:
        for page in (self.backend, self.dictation, self.voice):
            page.changed.connect(self._validate)
        self.backend.test_requested.connect(self.start_check)
        self.deploy.deployed.connect(self._deployed)
        self.deploy.running_changed.connect(self._validate)
        self.save_button.clicked.connect(self.save)
        self.buttons.rejected.connect(self.reject)

    @property
    def check_task(self) -> asyncio.Future[None] | None:
        """The running or last connection check."""
        return self._check_task

    def settings_from_form(self) -> Settings:
        """The settings as the form shows them (fields the dialog does not edit kept)."""
        current = self._settings
        dictation = replace(
            self.dictation.values(current.dictation), microphone=self.microphone.device_name()
        )
        overlay, startup = self.overlay.values(current.overlay, current.startup)
        history, sounds = self.history.values(current.history, current.sounds)
        return replace(
            current,
            backend=backend_from_form(self.backend.form(), current.backend),
            dictation=dictation,
            voice=self.voice.values(current.voice),
            overlay=overlay,
            startup=startup,
            history=history,
            sounds=sounds,
        )

    def secrets_from_form(self) -> dict[Secret, str]:
        """The non-empty secrets in the form."""
        typed = self.backend.typed_secrets().items()
        return {secret: value.strip() for secret, value in typed if value.strip()}

    def problem(self) -> str | None:
        """What stops Save, or None."""
        return (
            backend_problem(self.backend.form()) or self.dictation.problem() or self.voice.problem()
        )

    def save(self) -> None:
        """Store the new secrets, emit :attr:`saved` and close; on a problem, say it and stay."""
        problem = self.problem()
        if problem:
            show_error(self.error_label, problem)
            return
        settings = self.settings_from_form()
        typed = self.backend.typed_secrets()
        try:
            for secret, value in secrets_to_store(typed, self._loaded).items():
                self._store_secret(secret, value)
                self._loaded[secret] = value
            if self._delete_secret is not None:
                for secret in secrets_to_delete(typed, self._loaded):
                    self._delete_secret(secret)
                    del self._loaded[secret]
        except SecretStoreError as exc:
            show_error(self.error_label, f"Not saved: {exc}")
            self.tabs.setCurrentWidget(self.backend)
            return
        show_error(self.error_label, None)
        self.saved.emit(settings)
        rules = self.voice.rules()
        if rules != self._rules:
            self._rules = rules
            self.rules_saved.emit(rules)
        self.accept()

    def start_check(self) -> None:
        """Run "Test connection" as a task on the asyncio loop (qasync's in the app)."""
        if self._check is None or (self._check_task is not None and not self._check_task.done()):
            return
        problem = backend_problem(self.backend.form())
        if problem:
            self.backend.show_check(problem, error=True)
            return
        self.backend.test_button.setEnabled(False)
        self.backend.show_check("Connecting… (a backend that was idle takes 20-30 s to start)")
        self._check_task = asyncio.ensure_future(self.run_check())

    async def run_check(self) -> None:
        """Run the check with the form's values and show its answer or its error."""
        assert self._check is not None
        backend = backend_from_form(self.backend.form(), self._settings.backend)
        try:  # cancelled (the dialog closed): leave the widgets alone
            text, error = await self._check(backend, self.secrets_from_form()), False
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # whatever failed, the user sees why
            log.debug("connection check failed", exc_info=True)
            text, error = str(exc) or type(exc).__name__, True
        self.backend.show_check(text, error)
        self.backend.test_button.setEnabled(self.backend.kind() is not None)

    def reject(self) -> None:
        """Cancel, Escape or the close button: not while a deploy runs (stopping it halfway
        would leave a half-built backend); it says so instead."""
        if self.deploy.running:
            self.deploy.set_status(
                "A deploy is running: wait for it to finish before closing this window.",
                error=True,
            )
            return
        super().reject()

    def done(self, result: int) -> None:
        """Closing stops what still runs (a connection test, the level meter)."""
        if self._check_task is not None and not self._check_task.done():
            self._check_task.cancel()
        self.deploy.stop()
        self.microphone.stop_meter()
        super().done(result)

    def _load_secrets(self) -> dict[Secret, str]:
        """The secrets saved in the keyring; each field shows where its secret comes from."""
        loaded: dict[Secret, str] = {}
        problems: list[str] = []
        for secret in Secret:
            found = self._find_secret(secret)
            self.backend.set_secret_source(found, can_store=self._keyring_refusal is None)
            if found.source is Source.KEYRING and found.value:
                loaded[secret] = found.value
            elif found.keyring_problem and found.keyring_problem not in problems:
                problems.append(found.keyring_problem)
        if self._keyring_refusal is not None:
            self.backend.show_keyring_note(keyring_note(self._keyring_refusal), error=False)
        elif problems:
            self.backend.show_keyring_note(f"Saved keys cannot be read: {problems[0]}", error=True)
        return loaded

    def _validate(self) -> None:
        show_error(self.backend.problem_label, backend_problem(self.backend.form()))
        problem = self.problem()
        self.save_button.setEnabled(problem is None and not self.deploy.running)
        if problem is None:
            show_error(self.error_label, None)

    def _deployed(self, settings: Settings) -> None:
        self._settings = replace(self._settings, backend=settings.backend)
        self.backend.set_backend(settings.backend)
        found = self._find_secret(Secret.PROXY_TOKEN)
        token = found.value if found.source is Source.KEYRING else None
        if token:  # a Proxmox deploy stores its new token in the keyring
            self._loaded[Secret.PROXY_TOKEN] = token
            self.backend.set_secrets({Secret.PROXY_TOKEN: token})
        self.deploy.set_status(deployed_message(settings.backend, self.secrets_from_form()))
