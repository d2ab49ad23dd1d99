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
from app.core.desktop_session import session_kind, wayland_desktop
from app.core.endpoint import Endpoint, endpoint_for
from app.core.errors import AppError
from app.core.hands_free import AutoStop
from app.core.hotkey import Intent, Mode, parse_chord
from app.core.session import DictationSession, Phase
from app.core.settings import HotkeyMode, NewlineKey, Settings
from app.core.shortcuts import Desktop
from app.core.status import Status
from app.core.voice_edits import Key, Rule, StopEdit, VoiceEditConfig
from app.core.word_rules import RulesError
from app.desktop import compositor_config, words_store
from app.desktop.dictation import Dictation, WindowEdit
from app.desktop.focus import open_focus_probe
from app.desktop.hotkey_listener import HotkeyListener
from app.desktop.portal.bus import PortalError
from app.desktop.portal.global_shortcuts import PortalHotkeyListener, portal_hotkey
from app.desktop.typing_queue import TypingQueue
from app.desktop.typists.choose import open_typist
from app.desktop.version import LICENCE, version
from app.ui.history import History
from app.ui.overlay import Overlay
from app.ui.settings.dialog import SettingsDialog
from app.ui.settings.window import show_settings
from app.ui.tray import Tray, tray_available
from server.models import model_profile
from server.protocol.stream import ServerMessage, Token, VadEnd

log = logging.getLogger(__name__)

HIDE_OVERLAY_AFTER_MS = 2500  # the caption stays a moment after the last word
NO_TRAY_NOTICE_S = 15.0  # how long the overlay says how to reach an app without a tray
NO_TRAY = (
    "no system tray on this desktop: reach kyutai-dictate with 'kyutai-dictate show' "
    "(settings), 'kyutai-dictate toggle' (or start/stop) and 'kyutai-dictate quit'; "
    "the icon appears if a tray does"
)
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
        self._hotkey: HotkeyListener | PortalHotkeyListener | None = None
        self._hotkey_round = 0  # which _listen_to_hotkey a portal binding belongs to
        self._hotkey_task: asyncio.Task[None] | None = None
        # sway and Hyprland tile the overlay and give it the focus without our window rules.
        self._overlay_would_take_focus = False
        self.settings_dialog: SettingsDialog | None = None
        self._rules, self._rules_problem = self._load_rules()
        self.engine_note: str | None = None  # the local engine's device and speed, if one runs
        self._auto_stop: AutoStop | None = None  # hands-free: when the dictation ends
        self._auto_stop_timer: asyncio.TimerHandle | None = None
        self._stop_queued: asyncio.Handle | None = None  # stop() until the session has it
        self._auto_stop_at = 0.0  # when that timer fires (by the app's clock)

        self.overlay = Overlay(settings.overlay.opacity, settings.overlay.latency)
        self.overlay.geometry_changed.connect(self._remember_overlay)
        self._has_tray = tray_available()
        if not self._has_tray:  # e.g. the app autostarted before the desktop's panel
            log.warning("%s", NO_TRAY)
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
            session=DictationSession(
                leading_space=settings.dictation.leading_space,
                voice=self._voice_config(settings),
                clock=clock,
            ),
            on_edit=self._on_edit,
            recorder=self.history.recorder,
        )
        self.capture = Capture(self.dictation.audio, self._on_capture_failure)
        self.cues = CuePlayer()
        self.typing = TypingQueue(
            lambda: open_typist(
                self.settings.dictation.typing,
                self.env,
                paste_allowed=self.settings.dictation.paste_fallback,
            ),
            lambda: open_focus_probe(self.env),
            on_held=self.overlay_held,
        )
        self.overlay.type_held.connect(self._type_held)
        self.overlay.copy_held.connect(self._copy_held)

    # -- lifecycle -----------------------------------------------------------------------

    async def run(self) -> None:
        self.capture.prepare()  # PortAudio starts now, not at the first key press
        self.history.open()  # off the loop: a first open may migrate the file
        self.overlay.place(self.settings.overlay.geometry)
        self._listen_to_hotkey()
        self._render()
        self.tray.show()
        if not self._has_tray:  # say it on screen: the log is not where a user looks
            self.overlay.set_state(self._status.look, NO_TRAY)
            self._show_overlay(force=True)
            asyncio.get_running_loop().call_later(NO_TRAY_NOTICE_S, self._hide_overlay_if_done)
        log.info("kyutai-dictate is running (%s)", self._status.describe())
        if self._status.hotkey_problem:  # e.g. macOS has not granted the permissions yet
            self.tray.notify(f"hotkey: {self._status.hotkey_problem}", True)
        if self._rules_problem:
            self.notify(f"your own words are off: {self._rules_problem}", True)
        if not self.settings.backend.configured:
            self.open_settings(first_run=True)
        await self._quit.wait()
        await self.close()

    async def close(self) -> None:
        if self._hotkey_task is not None:
            self._hotkey_task.cancel()
        if self._hotkey is not None:
            self._hotkey.stop()
        self.capture.close()
        await self.dictation.close()
        await asyncio.to_thread(self.typing.close)
        await self.history.close()
        await asyncio.to_thread(self.cues.close)  # waits for a cue's stream to be closed
        self.tray.hide()
        self.overlay.hide()

    def quit(self) -> None:
        self._quit.set()

    def show(self) -> None:
        """A second launch asked us to show ourselves: the captions and, if unset or if
        there is no tray to reach them from, the settings."""
        log.info("shown on request")
        self._show_overlay(force=True)
        self.overlay.raise_()
        if not self.settings.backend.configured or not self._has_tray:
            self.open_settings(first_run=not self.settings.backend.configured)

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
        if self._stop_queued is not None:
            # Pressed again before the release reached the session: the dictation goes on,
            # as the session does for a press while it waits for the backend.
            self._stop_queued.cancel()
            self._stop_queued = None
        else:
            self._audio_started = self._clock()  # the stream's time 0
        hands_free = self.settings.dictation.mode is HotkeyMode.HANDS_FREE
        self._status = replace(self._status, error=None, hands_free=hands_free)
        if hands_free:
            self._auto_stop = AutoStop(
                self._audio_started,
                has_vad=_predicts_pauses(self.settings.backend.model),
                silence=self.settings.dictation.hands_free_silence,
            )
            self._watch_auto_stop()
        if self.dictation.phase is Phase.IDLE:
            self.overlay.clear_words()
        self.dictation.start()
        self.history.began()
        self._cue(Cue.START)  # after the capture started: a cue never delays it
        self._show_overlay()

    def stop(self) -> None:
        """Key up: no more audio; the words of what was said are still typed."""
        self._end_hands_free()
        if not self.capture.running:
            return
        self.capture.close()
        self._cue(Cue.STOP)
        # Queued behind every frame the capture callback has handed over: nothing is lost.
        self._stop_queued = asyncio.get_running_loop().call_soon(self._stop_session)

    def _stop_session(self) -> None:
        self._stop_queued = None
        self.dictation.stop()

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

    def _on_edit(self, edit: WindowEdit) -> None:
        """A voice command: shown as itself in the captions, carried out in the window."""
        self.overlay.apply_edit(edit)
        if isinstance(edit, StopEdit):
            log.info("voice command: stop dictation")
            self.stop()
        elif not self._captions_only:
            self.typing.edit(edit)

    def _on_message(self, message: ServerMessage) -> None:
        if isinstance(message, Token) and message.start is not None:
            self.overlay.set_latency(self._clock() - self._audio_started - message.start)
        if self._auto_stop is not None and self.capture.running:
            if isinstance(message, Token):
                self._auto_stop.word(self._clock())
            elif isinstance(message, VadEnd):
                self._auto_stop.vad_end(self._clock())
            self._watch_auto_stop()

    # -- hands-free ----------------------------------------------------------------------

    def _watch_auto_stop(self) -> None:
        """A timer at the time the dictation would end by itself. A word only moves that time
        later: the timer set for an earlier time fires, checks again and re-arms."""
        assert self._auto_stop is not None
        at, _ = self._auto_stop.due
        if self._auto_stop_timer is not None:
            if self._auto_stop_at <= at:
                return
            self._auto_stop_timer.cancel()
        loop = asyncio.get_running_loop()
        self._auto_stop_timer = loop.call_later(max(0.0, at - self._clock()), self._auto_stop_due)
        self._auto_stop_at = at

    def _auto_stop_due(self) -> None:
        self._auto_stop_timer = None
        if self._auto_stop is None:
            return
        reason = self._auto_stop.ended(self._clock())
        if reason is None:
            self._watch_auto_stop()
            return
        self.stop()
        self.notify(f"hands-free dictation stopped: {reason.value}", False)

    def _end_hands_free(self) -> None:
        self._auto_stop = None
        if self._auto_stop_timer is not None:
            self._auto_stop_timer.cancel()
            self._auto_stop_timer = None
        if self._status.hands_free:
            self._status = replace(self._status, hands_free=False)

    def _on_phase(self, phase: Phase) -> None:
        self._status = replace(self._status, phase=phase)
        log.info("dictation: %s", phase.value)
        if phase is Phase.CONNECTING:
            # Queued after every word of a dictation that drained before this one began.
            guard = self.settings.dictation.focus_guard and not self._captions_only
            self.typing.begin(guard, self.history.recorder.newest_number)
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

    def overlay_held(self, text: str, why: str, failed: bool, dictation: int | None) -> None:
        log.warning("%s: %d characters held", why, len(text))
        if dictation is not None:
            self.history.held(dictation)
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
        self._hotkey_round += 1
        if self._compositor_binds_hotkey():
            return
        if session_kind(self.env) == "wayland":
            if self._hotkey_task is not None:
                self._hotkey_task.cancel()  # an earlier binding still under way
            self._hotkey_task = asyncio.get_running_loop().create_task(
                self._listen_through_portal(self._hotkey_round)
            )
            return
        self._listen_with_pynput()

    def _key_mode(self) -> Mode:
        """What the key does: held, or pressed to start and stop (toggle and hands-free)."""
        return Mode.HOLD if self.settings.dictation.mode is HotkeyMode.HOLD else Mode.TOGGLE

    def _listen_with_pynput(self) -> None:
        dictation = self.settings.dictation
        try:
            chord = parse_chord(dictation.hotkey)
            listener = HotkeyListener(chord, self._key_mode(), self._on_intent, self._hotkey_lost)
            listener.start()
        except (AppError, ValueError) as exc:
            self._status = replace(self._status, hotkey=None, hotkey_problem=str(exc))
            log.warning("hotkey: %s", exc)
            return
        self._hotkey = listener
        self._status = replace(self._status, hotkey=str(chord), hotkey_problem=None)
        log.info("listening for the hotkey %s (%s)", chord, dictation.mode.value)

    async def _listen_through_portal(self, round_: int) -> None:
        """Wayland: the GlobalShortcuts portal where the desktop has one (KDE, GNOME 48+;
        press and release, so hold mode works); elsewhere pynput, which sees XWayland only."""
        dictation = self.settings.dictation
        try:
            chord = parse_chord(dictation.hotkey)
            listener = await portal_hotkey(
                chord, self._key_mode(), self._on_intent, self._hotkey_lost, self.env
            )
        except (PortalError, ValueError) as exc:
            if round_ == self._hotkey_round:
                self._status = replace(self._status, hotkey=None, hotkey_problem=str(exc))
                log.warning("hotkey: %s", exc)
                self._render()
            return
        if round_ != self._hotkey_round:  # the settings changed meanwhile
            if listener is not None:
                listener.stop()
            return
        if listener is None:
            self._listen_with_pynput()
        else:
            self._hotkey = listener
            self._status = replace(self._status, hotkey=str(chord), hotkey_problem=None)
            log.info(
                "listening for the hotkey %s (%s) through the GlobalShortcuts portal (%s)",
                chord,
                dictation.mode.value,
                listener.trigger,
            )
        self._render()

    def _compositor_binds_hotkey(self) -> bool:
        """On sway and Hyprland the compositor's key binding runs ``kyutai-dictate
        start``/``stop`` (no Wayland app sees global keys): say whether it is installed."""
        desktop = wayland_desktop(self.env) if session_kind(self.env) == "wayland" else None
        if desktop not in (Desktop.SWAY, Desktop.HYPRLAND):
            return False
        assert desktop is not None
        hotkey = self.settings.dictation.hotkey
        self._overlay_would_take_focus = not compositor_config.installed(desktop, self.env)
        if not self._overlay_would_take_focus:
            route = f"{hotkey} ({desktop.value} key binding)"
            self._status = replace(self._status, hotkey=route, hotkey_problem=None)
            log.info("hotkey: the %s key binding runs kyutai-dictate start/stop", desktop.value)
        else:
            problem = (
                f"Wayland shows no app the keys: run 'kyutai-dictate shortcut --install' to "
                f"bind {hotkey} in {desktop.value} (and to show the captions, whose window "
                f"rules it installs)"
            )
            self._status = replace(self._status, hotkey=None, hotkey_problem=problem)
            log.warning("hotkey: %s", problem)
        return True

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
        if self._overlay_would_take_focus:
            return  # typing would go into it: the words reach the window, unseen
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
        self.dictation.session.voice = self._voice_config(settings)
        self.overlay.set_opacity(settings.overlay.opacity)
        self.overlay.set_show_latency(settings.overlay.latency)
        self._status = replace(self._status, configured=settings.backend.configured, error=None)
        self._render()

    # -- voice commands and your own words -------------------------------------------------

    @property
    def rules_path(self) -> Path:
        return words_store.default_path(self.config_path)

    def _load_rules(self) -> tuple[list[Rule], str | None]:
        try:
            return words_store.load(self.rules_path), None
        except RulesError as exc:
            return [], str(exc)

    def set_rules(self, rules: list[Rule]) -> None:
        """New replacement rules from Settings: saved to the rules file and used from the
        next dictation."""
        words_store.save(rules, self.rules_path)
        self._rules, self._rules_problem = list(rules), None
        self.dictation.session.voice = self._voice_config(self.settings)

    @property
    def rules(self) -> list[Rule]:
        return list(self._rules)

    @property
    def voice(self) -> VoiceEditConfig:
        """The voice commands and replacements a dictation goes through now."""
        return self._voice_config(self.settings)

    def _voice_config(self, settings: Settings) -> VoiceEditConfig:
        voice = settings.voice
        newline = Key.SHIFT_RETURN if voice.newline is NewlineKey.SHIFT_RETURN else Key.RETURN
        return VoiceEditConfig(
            commands=voice.commands,
            rules=tuple(self._rules) if voice.replacements else (),
            pause_seconds=voice.pause_seconds,
            newline_key=newline,
        )

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


def _predicts_pauses(model: str) -> bool:
    """Whether the backend's model sends ``vad_end`` (an unknown one: assume not)."""
    try:
        return model_profile(model).has_vad
    except ValueError:
        return False
