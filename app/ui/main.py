"""``kyutai-dictate`` with no command: the desktop app (Qt and asyncio on one thread).

A second launch finds the first over the control socket, asks it to show itself and exits.
"""

from __future__ import annotations

import asyncio
import logging
import logging.handlers
import os
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import platformdirs

from app.core.commands import RemoteCommand
from app.core.credentials import secret_lookup
from app.core.desktop_session import missing_display
from app.core.errors import UsageError
from app.core.settings import BackendKind, BackendSettings, HotkeyMode, Settings
from app.core.shortcuts import APP_ID
from app.desktop import secret_store, settings_store
from server.protocol import moshi

if TYPE_CHECKING:
    from app.desktop.local_engine import LocalEngine

log = logging.getLogger(__name__)


def with_overrides(
    settings: Settings, url: str | None, hotkey: str | None, mode: str | None
) -> Settings:
    """The settings with ``--url`` / ``--hotkey`` / ``--mode`` applied (for this run only)."""
    if url:
        kind = BackendKind.MOSHI if moshi.PATH in url else BackendKind.PROXY
        settings = replace(settings, backend=BackendSettings(kind, url=url))
    dictation = settings.dictation
    if hotkey:
        dictation = replace(dictation, hotkey=hotkey)
    if mode:
        dictation = replace(dictation, mode=HotkeyMode(mode))
    return replace(settings, dictation=dictation)


def keep_file_values(
    settings: Settings, file: Settings, url: str | None, hotkey: str | None, mode: str | None
) -> Settings:
    """What to save: ``settings``, but where an override is in effect, the file's own value."""
    dictation = settings.dictation
    if hotkey:
        dictation = replace(dictation, hotkey=file.dictation.hotkey)
    if mode:
        dictation = replace(dictation, mode=file.dictation.mode)
    backend = file.backend if url else settings.backend
    return replace(settings, backend=backend, dictation=dictation)


def log_file() -> Path:
    return Path(platformdirs.user_log_dir("kyutai-dictate", appauthor=False)) / "app.log"


def run_app(
    config: Path | None,
    url: str | None = None,
    hotkey: str | None = None,
    mode: str | None = None,
    local: Path | bool = False,
) -> int:
    """Run the app until the user quits; 0, or 1 when it could not start. ``local``: use the
    local engine (``True``, or the checkpoint directory to load) for this run."""
    settings = settings_store.load(config)
    if local:
        checkpoint = str(local) if isinstance(local, Path) else ""
        engine_backend = BackendSettings(BackendKind.ENGINE, checkpoint=checkpoint)
        settings = replace(settings, backend=engine_backend)
    backend = settings.backend
    if backend.kind is not BackendKind.ENGINE or url:
        return _run_app(config, settings, url, hotkey, mode, None)
    from app.desktop.local_engine import local_engine

    checkpoint_dir = Path(backend.checkpoint) if backend.checkpoint else None
    with local_engine(backend.model, checkpoint_dir) as engine:
        settings = replace(settings, backend=replace(backend, url=engine.url))
        # --local is for this run: the file keeps its backend, as with --url
        return _run_app(config, settings, engine.url if local else None, hotkey, mode, engine)


def _run_app(
    config: Path | None,
    file_settings: Settings,
    url: str | None,
    hotkey: str | None,
    mode: str | None,
    engine: LocalEngine | None,
) -> int:
    from PySide6.QtWidgets import QApplication
    from qasync import QEventLoop

    from app.core.hotkey import ChordError, parse_chord
    from app.desktop.control_client import send_command
    from app.ui.control import ControlServer
    from app.ui.dictate_app import DictateApp

    settings = with_overrides(file_settings, None if engine else url, hotkey, mode)
    # url, from here on: the backend override of this run (--url or --local), kept out of the file
    try:
        parse_chord(settings.dictation.hotkey)
    except ChordError as exc:
        raise UsageError(f"hotkey: {exc}") from None
    problem = missing_display(os.environ, sys.platform)
    if problem:
        raise UsageError(problem)
    path = log_file()
    _log_to_file(path)

    qt_app = QApplication.instance() or QApplication(sys.argv[:1])
    assert isinstance(qt_app, QApplication)
    qt_app.setApplicationName("kyutai-dictate")
    # The Wayland app_id (and X11 class hint): window rules and the tray name the app by it.
    qt_app.setDesktopFileName(APP_ID)
    qt_app.setQuitOnLastWindowClosed(False)  # closing the settings dialog must not quit

    app: DictateApp | None = None
    server = ControlServer(lambda command: app.control(command) if app else "error: starting")
    if not server.listen():
        _show_running_instance(send_command)
        return 0

    def save(new: Settings) -> None:
        # The file as it is now: a deploy from the dialog may have written a new backend.
        current = settings_store.load(config)
        if new.backend.kind is BackendKind.ENGINE:  # its URL is this run's, not a setting
            new = replace(new, backend=replace(new.backend, url=""))
        settings_store.save(keep_file_values(new, current, url, hotkey, mode), config)

    async def main() -> None:
        nonlocal app
        env = dict(os.environ)
        secrets = secret_lookup(env, secret_store.load)
        app = DictateApp(settings, save, path, secrets, env, time.monotonic, config)
        if engine is not None:
            app.engine_note = engine.describe()  # Settings shows it on the backend page
            app.notify(engine.describe(), error=engine.too_slow)
        if sys.platform != "win32":
            for sig in (signal.SIGINT, signal.SIGTERM):
                asyncio.get_running_loop().add_signal_handler(sig, app.quit)
        await app.run()

    loop = QEventLoop(qt_app)
    asyncio.set_event_loop(loop)
    with loop:
        try:
            loop.run_until_complete(main())
        finally:
            server.close()
    return 0


def _show_running_instance(send_command: Callable[[str], str]) -> None:
    """Ask the running app to show itself (it may still be starting: retry a moment)."""
    from app.desktop.control_client import ControlError

    for attempt in range(20):
        try:
            send_command(RemoteCommand.SHOW)
            break
        except ControlError:
            if attempt == 19:
                raise
            time.sleep(0.25)
    print("kyutai-dictate is already running: showed it", file=sys.stderr)


def _log_to_file(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    handler = logging.handlers.RotatingFileHandler(
        path, maxBytes=1_000_000, backupCount=2, encoding="utf-8"
    )
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.setLevel(logging.INFO)
    root = logging.getLogger()
    root.addHandler(handler)
    if root.level > logging.INFO:  # the file always gets info; stderr keeps --log-level
        for existing in root.handlers:
            if existing is not handler:
                existing.setLevel(root.level)
        root.setLevel(logging.INFO)
