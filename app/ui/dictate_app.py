"""The composition root of the desktop app: builds every part, wires them, owns the state.

Hotkey (pynput thread) and microphone (PortAudio thread) hand their events to the loop; the
:class:`~app.desktop.dictation.Dictation` turns them into a stream and words; words go to the
:class:`~app.desktop.typing_queue.TypingQueue` (worker thread) and to the overlay; the tray and the
overlay render :class:`~app.core.status.Status`. Everything else here is glue.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import replace
from pathlib import Path
from typing import assert_never

from PySide6.QtCore import Qt, QUrl
from PySide6.QtGui import QDesktopServices, QGuiApplication
from PySide6.QtWidgets import QMessageBox

from app.audio.capture import Capture
from app.audio.cues import Cue, CuePlayer
from app.backend.connect import stream_connector
from app.backend.stream import Stream
from app.core.about import about_text
from app.core.commands import RemoteCommand
from app.core.credentials import SecretLookup
from app.core.endpoint import Endpoint, endpoint_for
from app.core.errors import AppError
from app.core.hotkey import Intent, Mode, parse_chord
from app.core.session import DictationSession, Phase
from app.core.settings import Settings
from app.core.status import Status
from app.desktop.dictation import Dictation
from app.desktop.focus import open_focus_probe
from app.desktop.hotkey_listener import HotkeyListener
from app.desktop.typing_queue import TypingQueue
from app.desktop.typists.choose import open_typist
from app.desktop.version import LICENCE, version
from app.ui.history import History
from app.ui.overlay import Overlay
from app.ui.settings.dialog import SettingsDialog
from app.ui.settings.window import show_settings
from app.ui.tray import Tray, tray_available
from server.protocol.stream import ServerMessage, Token

log = logging.getLogger(__name__)

HIDE_OVERLAY_AFTER_MS = 2500  # the caption stays a moment after the last word
CONNECT_TIMEOUT = 30.0  # per attempt; the session retries within its own time limit


class DictateApp:
    """Owns the app's parts; :meth:`run` returns when the user quits."""

    def __init__(
        self,
        settings: Settings,
        save: Callable[[Settings], None],
        log_path: Path,
        secrets: SecretLookup,
        env: Mapping[str, str],
        clock: Callable[[], float],
        config_path: Path | None = None,
    ) -> None:
        """``save`` writes changed settings (the overlay's place, the dialog's changes);
        ``secrets`` finds the backend's credentials (environment, then keyring); ``env`` is
        the environment the typists, the focus guard and start at login see; ``clock`` (in
        seconds, monotonic) times the connection attempts and the latency shown;
        ``config_path`` is the settings file a deploy from the dialog updates."""
        self.settings = settings
        self._save = save
        self.config_path = config_path
        self._log_path = log_path
        self.secrets = secrets
        self.env = dict(env)
        self._clock = clock
        self._quit = asyncio.Event()
        self._status = Status(configured=settings.backend.configured)
        self._captions_always = False  # the tray's "show captions": a live caption window
        self._captions_only = False  # captions without typing
        self._audio_started = 0.0
        self._dictation_endpoint = Endpoint("")  # set at key-down, used by its connections
        self._hotkey: HotkeyListener | None = None
        self.settings_dialog: SettingsDialog | None = None

        self.overlay = Overlay(settings.overlay.opacity, settings.overlay.latency)
        self.overlay.geometry_changed.connect(self._remember_overlay)
        if not tray_available():  # e.g. the app autostarted before the desktop's panel
            log.warning(
                "no system tray on this desktop: the hotkey, the captions and "
                "'kyutai-dictate toggle' work; the icon appears if a tray does"
            )
        self.tray = Tray()
        self.tray.toggle_dictation.connect(self.toggle)
        self.tray.show_captions.connect(self._set_captions_always)
        self.tray.captions_only.connect(self._set_captions_only)
        self.tray.open_settings.connect(self.open_settings)
        self.tray.open_log.connect(self._open_log)
        self.tray.show_about.connect(self._show_about)
        self.tray.quit.connect(self._quit.set)
        self.history = History(self)
        self.tray.open_history.connect(self.history.show)
        self.tray.transcribe_pending.connect(self.history.retry_pending)

        self.dictation = Dictation(
            self._open_stream,
            self._on_text,
            on_phase=self._on_phase,
            on_notice=self.notify,
            on_message=self._on_message,
            session=DictationSession(leading_space=settings.dictation.leading_space, clock=clock),
            recorder=self.history.recorder,
        )
        self.capture = Capture(self.dictation.audio, self._on_capture_failure)
        self.cues = CuePlayer()
        self.typing = TypingQueue(
            lambda: open_typist(self.settings.dictation.typing, self.env),
            lambda: open_focus_probe(self.env),
            on_held=self.overlay_held,
        )
        self.overlay.type_held.connect(self._type_held)
        self.overlay.copy_held.connect(self._copy_held)

    # -- lifecycle -----------------------------------------------------------------------

    async def run(self) -> None:
        self.capture.prepare()  # PortAudio starts now, not at the first key press
        self.overlay.place(self.settings.overlay.geometry)
        self._listen_to_hotkey()
        self._render()
        self.tray.show()
        log.info("kyutai-dictate is running (%s)", self._status.describe())
        if not self.settings.backend.configured:
            self.open_settings(first_run=True)
        await self._quit.wait()
        await self.close()

    async def close(self) -> None:
        if self._hotkey is not None:
            self._hotkey.stop()
        self.capture.close()
        await self.dictation.close()
        await asyncio.to_thread(self.typing.close)
        await self.history.close()
        self.cues.close()
        self.tray.hide()
        self.overlay.hide()

    def quit(self) -> None:
        self._quit.set()

    def show(self) -> None:
        """A second launch asked us to show ourselves: the captions and, if unset, settings."""
        log.info("shown on request")
        self.overlay.show()
        self.overlay.raise_()
        if not self.settings.backend.configured:
            self.open_settings(first_run=True)

    # -- dictation -----------------------------------------------------------------------

    def start(self) -> None:
        """Key down: capture at once; the connection opens meanwhile."""
        if self.capture.running:
            return  # autorepeat, or already dictating
        try:
            self.capture.open(self.settings.dictation.microphone)
        except AppError as exc:
            self.notify(str(exc), True)
            return
        try:
            if not self.settings.backend.configured:
                self.open_settings(first_run=True)
            # Read once per dictation (the keyring may be slow); fails now if it is unusable.
            self._dictation_endpoint = self._endpoint()
        except Exception as exc:  # whatever it is, the microphone must not stay open
            self.capture.close()
            if not isinstance(exc, AppError):
                log.exception("starting a dictation failed")
            self.notify(str(exc), True)
            return
        self._audio_started = self._clock()
        self._status = replace(self._status, error=None)
        if self.dictation.phase is Phase.IDLE:
            self.overlay.clear_words()
        self.dictation.start()
        self.history.began()
        self._cue(Cue.START)  # after the capture started: a cue never delays it
        self._show_overlay()

    def stop(self) -> None:
        """Key up: no more audio; the words of what was said are still typed."""
        if not self.capture.running:
            return
        self.capture.close()
        self._cue(Cue.STOP)
        # Queued behind every frame the capture callback has handed over: nothing is lost.
        asyncio.get_running_loop().call_soon(self.dictation.stop)

    def toggle(self) -> None:
        if self.capture.running:
            self.stop()
        elif self.dictation.session.waiting_after_release:
            self.dictation.cancel()  # "stop" while only the backend is awaited: give up
        else:
            self.start()

    def control(self, command: RemoteCommand) -> str:
        """A command from ``kyutai-dictate COMMAND`` (a desktop shortcut)."""
        match command:
            case RemoteCommand.TOGGLE:
                self.toggle()
            case RemoteCommand.START:
                self.start()
            case RemoteCommand.STOP:
                self.stop()
            case RemoteCommand.SHOW:
                self.show()
            case RemoteCommand.QUIT:
                self.quit()
            case RemoteCommand.TYPE_HELD:
                self._type_held()
            case RemoteCommand.COPY_HELD:
                self._copy_held()
            case RemoteCommand.SHOW_HISTORY:
                self.history.show()
            case _:
                assert_never(command)
        return "ok"

    def _endpoint(self) -> Endpoint:
        return endpoint_for(self.settings.backend, self.secrets)

    @asynccontextmanager
    async def _open_stream(self) -> AsyncIterator[Stream]:
        open_stream = stream_connector(self.settings.backend)
        async with open_stream(self._dictation_endpoint, CONNECT_TIMEOUT) as stream:
            if stream.legacy != self._status.older_protocol:
                self._status = replace(self._status, older_protocol=stream.legacy)
                self._render()
            yield stream

    def _on_text(self, text: str) -> None:
        self.overlay.add_words(text)
        if not self._captions_only:
            self.typing.type(text)

    def _on_message(self, message: ServerMessage) -> None:
        if isinstance(message, Token) and message.start is not None:
            self.overlay.set_latency(self._clock() - self._audio_started - message.start)

    def _on_phase(self, phase: Phase) -> None:
        self._status = replace(self._status, phase=phase)
        log.info("dictation: %s", phase.value)
        if phase is Phase.CONNECTING:
            # Queued after every word of a dictation that drained before this one began.
            self.typing.begin(self.settings.dictation.focus_guard and not self._captions_only)
        if phase is Phase.IDLE:
            asyncio.get_running_loop().call_soon(self._after_dictation)
        self._render()

    def _after_dictation(self) -> None:
        if self.dictation.phase is not Phase.IDLE:
            return  # the next dictation already began
        self.capture.close()  # still open if the dictation failed while the key was held
        self.typing.finish()
        if not self._captions_always and self.overlay.isVisible():
            loop = asyncio.get_running_loop()
            loop.call_later(HIDE_OVERLAY_AFTER_MS / 1000, self._hide_overlay_if_done)

    def _hide_overlay_if_done(self) -> None:
        idle = self.dictation.phase is Phase.IDLE
        if idle and not self._captions_always and not self.overlay.has_held:
            self.overlay.hide()

    def notify(self, message: str, error: bool) -> None:
        """Tell the user (overlay, tray, log); an error shows until the next dictation."""
        (log.warning if error else log.info)("%s", message)
        if error:
            self._status = replace(self._status, error=message)
            self._render()
        self.overlay.set_state(self._status.look, message)
        if error or self.overlay.isVisible():
            self._show_overlay(force=error)
        if error:
            self.tray.notify(message, error)
            self._cue(Cue.ERROR)

    def _cue(self, cue: Cue) -> None:
        if self.settings.sounds.cues:
            self.cues.play(cue, self.settings.sounds.volume)

    def _on_capture_failure(self, reason: str) -> None:
        """The microphone died mid-dictation: what was said so far is still transcribed."""
        self.notify(f"{reason}; dictation stopped", True)
        self.dictation.stop()

    def overlay_held(self, text: str, why: str, failed: bool) -> None:
        log.warning("%s: %d characters held", why, len(text))
        self.history.held()
        self.overlay.set_held(text, why)
        self._show_overlay(force=True)
        if failed and self._status.error != why:
            self._status = replace(self._status, error=why)
            self._render()
            self.tray.notify(f"{why}. The words are kept in the captions.", True)

    def _type_held(self) -> None:
        self.overlay.set_held("", "")
        self.typing.type_held()

    def _copy_held(self) -> None:
        loop = asyncio.get_running_loop()
        self.typing.take_held().add_done_callback(
            lambda done: loop.call_soon_threadsafe(self._to_clipboard, done.result())
        )

    def _to_clipboard(self, text: str) -> None:
        if not text:
            self.notify("no held words to copy", False)
            return
        QGuiApplication.clipboard().setText(text)
        self.overlay.set_held("", "")

    # -- hotkey, captions, settings -------------------------------------------------------

    def _listen_to_hotkey(self) -> None:
        if self._hotkey is not None:
            self._hotkey.stop()
            self._hotkey = None
        dictation = self.settings.dictation
        try:
            chord = parse_chord(dictation.hotkey)
            listener = HotkeyListener(
                chord, Mode(dictation.mode.value), self._on_intent, self._hotkey_lost
            )
            listener.start()
        except (AppError, ValueError) as exc:
            self._status = replace(self._status, hotkey=None, hotkey_problem=str(exc))
            log.warning("hotkey: %s", exc)
            return
        self._hotkey = listener
        self._status = replace(self._status, hotkey=str(chord), hotkey_problem=None)
        log.info("listening for the hotkey %s (%s)", chord, dictation.mode.value)

    def _hotkey_lost(self, reason: str) -> None:
        self._hotkey = None
        self._status = replace(self._status, hotkey_problem=reason)
        self.notify(f"hotkey: {reason}; 'kyutai-dictate toggle' still works", True)

    def _on_intent(self, intent: Intent) -> None:
        {Intent.START: self.start, Intent.STOP: self.stop, Intent.TOGGLE: self.toggle}[intent]()

    def _set_captions_always(self, on: bool) -> None:
        self._captions_always = on
        if on:
            self._show_overlay(force=True)
        elif self.dictation.phase is Phase.IDLE:
            self.overlay.hide()
        self._render()

    def _set_captions_only(self, on: bool) -> None:
        self._captions_only = on
        if on:
            self._set_captions_always(True)
        self._render()

    def _show_overlay(self, force: bool = False) -> None:
        if force or self.settings.overlay.show or self._captions_always:
            self.overlay.show()

    def _remember_overlay(self, geometry: tuple[int, ...]) -> None:
        overlay = replace(self.settings.overlay, geometry=geometry)
        self._apply(replace(self.settings, overlay=overlay))

    @property
    def capturing(self) -> bool:
        """Whether the microphone is open (a key is held, or a toggle is on)."""
        return self.capture.running

    @property
    def idle(self) -> bool:
        """No dictation is capturing or waiting for words."""
        return not self.capture.running and self.dictation.phase is Phase.IDLE

    def open_settings(self, first_run: bool = False) -> None:
        show_settings(self, first_run)

    def apply_settings(self, settings: Settings) -> None:
        """New settings from the dialog: save them and put them to work."""
        old = self.settings
        self._apply(settings)
        if (settings.dictation.hotkey, settings.dictation.mode) != (
            old.dictation.hotkey,
            old.dictation.mode,
        ):
            self._listen_to_hotkey()
        self.dictation.session.leading_space = settings.dictation.leading_space
        self.overlay.set_opacity(settings.overlay.opacity)
        self.overlay.set_show_latency(settings.overlay.latency)
        self._status = replace(self._status, configured=settings.backend.configured, error=None)
        self._render()

    def _apply(self, settings: Settings) -> None:
        self.settings = settings
        try:
            self._save(settings)
        except OSError as exc:
            self.notify(f"cannot save the settings: {exc}", True)

    def _open_log(self) -> None:
        QDesktopServices.openUrl(QUrl.fromLocalFile(str(self._log_path)))

    def _show_about(self) -> None:
        """A non-modal box (a modal one would nest an event loop under qasync)."""
        text = about_text(version(), LICENCE, self.settings.backend)
        box = QMessageBox(QMessageBox.Icon.Information, "About kyutai-dictate", text)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.setObjectName("about")
        box.show()

    def _render(self) -> None:
        self.overlay.set_state(self._status.look, self._status.describe())
        self.tray.render(self._status, self._captions_always, self._captions_only)
