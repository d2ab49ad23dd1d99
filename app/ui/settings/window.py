"""Opening the settings dialog from the running app, and putting its result to work."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import replace
from functools import partial
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt

from app.audio.microphone import MicrophoneError, list_input_devices, rescan_devices
from app.backend.connect import stream_connector
from app.backend.connection_check import check_backend
from app.core.credentials import Secret, secret_lookup
from app.core.settings import BackendSettings, Settings
from app.desktop import secret_store
from app.desktop.autostart import AutostartError, launch_command, set_autostart
from app.ui.settings.dialog import SettingsDialog

if TYPE_CHECKING:
    from app.ui.dictate_app import DictateApp

log = logging.getLogger(__name__)
CHECK_TIMEOUT = 90.0


def show_settings(app: DictateApp, first_run: bool) -> SettingsDialog:
    """Show the app's settings dialog (raised if already open)."""
    if app.settings_dialog is not None:
        app.settings_dialog.raise_()
        app.settings_dialog.activateWindow()
        return app.settings_dialog
    try:
        if not app.capture.running:
            rescan_devices()  # a microphone plugged in since the app started is listed
        devices = list_input_devices()
    except MicrophoneError as exc:
        log.warning("%s", exc)
        devices = []
    dialog = SettingsDialog(
        app.settings,
        find_secret=app.secrets,
        store_secret=secret_store.store,
        delete_secret=secret_store.delete,
        keyring_refusal=secret_store.unsafe_keyring(),
        devices=devices,
        check=partial(_check, app.env),
        first_run=first_run,
        config_path=app.config_path,
    )
    dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    dialog.saved.connect(partial(_saved, app))
    # A deploy has written the new backend into the file already: adopt it even if the
    # dialog is then cancelled, or the app's next save would put the old one back.
    dialog.deploy.deployed.connect(
        lambda deployed: app.apply_settings(replace(app.settings, backend=deployed.backend))
    )
    dialog.finished.connect(lambda _result: setattr(app, "settings_dialog", None))
    app.settings_dialog = dialog
    dialog.show()
    dialog.raise_()
    dialog.activateWindow()
    return dialog


async def _check(env: Mapping[str, str], backend: BackendSettings, form: dict[Secret, str]) -> str:
    open_stream = stream_connector(backend)
    # A cold Modal backend holds the connection while it starts: allow for that.
    return await check_backend(
        backend,
        secret_lookup(env, form.get),
        connect=lambda endpoint: open_stream(endpoint, CHECK_TIMEOUT),
    )


def _saved(app: DictateApp, settings: Settings) -> None:
    app.apply_settings(settings)
    command = launch_command()
    if app.config_path is not None:  # started with --config: so it starts at login
        command += ["--config", str(app.config_path.resolve())]
    try:
        set_autostart(settings.startup.at_login, command, os.environ)
    except (AutostartError, OSError) as exc:
        app.notify(f"start at login: {exc}", error=True)
