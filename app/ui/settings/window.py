"""Opening the settings dialog for the running app, and putting its result to work.

The dialog gets its I/O from here: the keyring, the microphone list and level meter, the
connection check and whether start at login works on this system.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Mapping
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import Protocol

from PySide6.QtCore import Qt

from app.audio.level_meter import LevelMeter, LevelSource
from app.audio.microphone import MicrophoneError, list_input_devices, rescan_devices
from app.backend.connect import stream_connector
from app.backend.connection_check import check_backend
from app.core.credentials import Secret, SecretLookup, secret_lookup
from app.core.desktop_session import focus_guard_unavailable
from app.core.settings import BackendSettings, Settings
from app.core.voice_edits import Rule
from app.desktop import autostart, secret_store
from app.ui.settings.dialog import SettingsDialog

log = logging.getLogger(__name__)
CHECK_TIMEOUT = 90.0


class SettingsHost(Protocol):
    """What the settings window needs of the app it configures."""

    settings_dialog: SettingsDialog | None  # the one open, if any

    @property
    def settings(self) -> Settings: ...
    @property
    def secrets(self) -> SecretLookup: ...
    @property
    def env(self) -> Mapping[str, str]: ...
    @property
    def config_path(self) -> Path | None:
        """The settings file a deploy updates (and that the app starts with at login)."""
        ...

    @property
    def capturing(self) -> bool:
        """Whether the microphone is in use (the device list is then not rescanned)."""
        ...

    @property
    def engine_note(self) -> str | None:
        """What the local engine of this run found (device, real-time factor), if one runs."""
        ...

    @property
    def rules(self) -> list[Rule]:
        """The replacement rules (words.txt)."""
        ...

    def apply_settings(self, settings: Settings) -> None: ...
    def set_rules(self, rules: list[Rule]) -> None:
        """Save new replacement rules (raises OSError if they cannot be written)."""
        ...

    def notify(self, message: str, error: bool) -> None: ...


def show_settings(
    host: SettingsHost,
    first_run: bool,
    meter: Callable[[], LevelSource] = LevelMeter,
    autostart_supported: Callable[[], bool] = autostart.supported,
) -> SettingsDialog:
    """Show the host's settings dialog (raised if already open); ``meter`` makes the
    microphone page's level meter, ``autostart_supported`` says if start at login works."""
    if host.settings_dialog is not None:
        host.settings_dialog.raise_()
        host.settings_dialog.activateWindow()
        return host.settings_dialog
    try:
        if not host.capturing:
            rescan_devices()  # a microphone plugged in since the app started is listed
        devices = list_input_devices()
    except MicrophoneError as exc:
        log.warning("%s", exc)
        devices = []
    dialog = SettingsDialog(
        host.settings,
        find_secret=host.secrets,
        store_secret=secret_store.store,
        delete_secret=secret_store.delete,
        keyring_refusal=secret_store.unsafe_keyring(),
        devices=devices,
        check=partial(_check, host.env),
        first_run=first_run,
        config_path=host.config_path,
        meter=meter(),
        autostart_supported=autostart_supported(),
        rules=host.rules,
        engine_note=host.engine_note,
        focus_guard_note=focus_guard_unavailable(host.env, sys.platform),
    )
    dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    dialog.saved.connect(partial(_saved, host))
    dialog.rules_saved.connect(partial(_rules_saved, host))
    # A deploy has written the new backend into the file already: adopt it even if the
    # dialog is then cancelled, or the host's next save would put the old one back.
    dialog.deploy.deployed.connect(
        lambda deployed: host.apply_settings(replace(host.settings, backend=deployed.backend))
    )
    dialog.finished.connect(lambda _result: setattr(host, "settings_dialog", None))
    host.settings_dialog = dialog
    dialog.show()
    dialog.raise_()
    dialog.activateWindow()
    return dialog


async def _check(env: Mapping[str, str], backend: BackendSettings, form: dict[Secret, str]) -> str:
    connect = stream_connector(backend)
    # A cold Modal backend holds the connection while it starts: allow for that.
    return await check_backend(
        backend,
        secret_lookup(env, form.get),
        connect=lambda endpoint: connect(endpoint, CHECK_TIMEOUT),
    )


def _saved(host: SettingsHost, settings: Settings) -> None:
    host.apply_settings(settings)
    command = autostart.launch_command()
    if host.config_path is not None:  # started with --config: so it starts at login
        command += ["--config", str(host.config_path.resolve())]
    try:
        autostart.set_autostart(settings.startup.at_login, command, host.env)
    except (autostart.AutostartError, OSError) as exc:
        host.notify(f"start at login: {exc}", error=True)


def _rules_saved(host: SettingsHost, rules: list[Rule]) -> None:
    try:
        host.set_rules(rules)
    except OSError as exc:
        host.notify(f"your own words were not saved: {exc}", error=True)
