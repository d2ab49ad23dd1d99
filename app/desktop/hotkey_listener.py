"""The global hotkey: pynput's keyboard listener feeding a :class:`~app.core.hotkey.HotkeyTracker`.

pynput calls back on its own thread; the callbacks only hand the key name and time to the
loop. Decisions (chord, mode, autorepeat) are the tracker's. A release is settled a moment
later by a one-shot timer (autorepeat sends release+press pairs), never by polling. If
pynput's thread dies, ``on_lost`` says so (the tray shows the hotkey's health).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from app.core.errors import AppError
from app.core.hotkey import AUTOREPEAT_GAP, Chord, HotkeyTracker, Intent, Mode

log = logging.getLogger(__name__)

RECORDING_TIMEOUT = 5.0  # seconds start() waits for the X server to record keys
MACOS_PERMISSION = (
    "macOS does not let Kyutai Dictate see the keyboard yet: open System Settings > Privacy & "
    "Security, turn Kyutai Dictate on under Accessibility and under Input Monitoring (typing "
    "needs Accessibility too), then quit the app and start it again"
)
LISTENER_STOPPED = "the keyboard listener stopped (X server connection lost?)"


def _untrusted(listener: Any) -> bool:
    """pynput's macOS listener sets ``IS_TRUSTED`` from ``AXIsProcessTrusted()`` when it starts
    (pynput/_util/darwin.py, ``ListenerMixin._run``); untrusted, it sees no key, and where
    the event tap cannot be made it ends at once. Other backends have no such flag."""
    return getattr(listener, "IS_TRUSTED", True) is False


class HotkeyError(AppError):
    """The global hotkey cannot be listened to on this system."""


def key_name(key: Any) -> str | None:
    """pynput's key as the tracker names it: ``f9``, ``ctrl``, ``d`` (None if unnamed)."""
    name = getattr(key, "name", None)  # keyboard.Key members
    if name:
        return str(name)
    char = getattr(key, "char", None)
    if char:
        return str(char).lower()
    vk = getattr(key, "vk", None)
    return f"vk{vk}" if vk is not None else None


def _pynput_listener() -> Any:
    try:
        from pynput import keyboard
    except Exception as exc:  # pynput imports its backend eagerly: no X, no Wayland support
        raise HotkeyError(
            f"global hotkeys are not available here ({exc}); bind a desktop shortcut to "
            "'kyutai-dictate toggle' instead"
        ) from None
    return keyboard.Listener


def _recording(listener_class: Any, recording: threading.Event) -> Any:
    """``listener_class``, setting ``recording`` once it really sees keys.

    pynput's X11 listener says it is ready (``wait()`` returns) just before it asks the X
    server to enable its RECORD context (pynput/_util/xorg.py, ``ListenerMixin._run``): a
    key pressed in between is never seen. The server answers that request first with a
    StartOfData reply (RECORD extension protocol, RecordEnableContext), which pynput hands
    to ``_handler``. Other backends listen once ready.
    """
    if listener_class.__module__ != "pynput.keyboard._xorg":
        recording.set()
        return listener_class
    from Xlib.ext.record import StartOfData

    class RecordingListener(listener_class):  # type: ignore[misc]
        def _handler(self, events: Any) -> Any:
            if events.category == StartOfData:
                recording.set()
            return super()._handler(events)

    return RecordingListener


class HotkeyListener:
    """Listens while started; ``on_intent`` gets START/STOP on the loop."""

    def __init__(
        self,
        chord: Chord,
        mode: Mode,
        on_intent: Callable[[Intent], None],
        on_lost: Callable[[str], None] = lambda reason: None,
        listener_class: Any = None,
    ) -> None:
        """``on_lost(reason)`` is called on the loop if the listener dies on its own;
        ``listener_class`` replaces pynput's ``keyboard.Listener`` (tests)."""
        self._listener_class = listener_class
        self._tracker = HotkeyTracker(chord, mode)
        self._on_intent = on_intent
        self._on_lost = on_lost
        self._loop = asyncio.get_running_loop()
        self._listener: Any = None
        self._settle: asyncio.TimerHandle | None = None

    def start(self) -> None:
        """Listen; returns once a key pressed from now on is seen."""
        listener_class = self._listener_class or _pynput_listener()
        recording = threading.Event()
        self._listener = _recording(listener_class, recording)(
            on_press=lambda key: self._from_thread(self._press, key),
            on_release=lambda key: self._from_thread(self._release, key),
        )
        self._listener.start()
        self._listener.wait()
        if _untrusted(self._listener):
            self.stop()
            raise HotkeyError(MACOS_PERMISSION)
        if not recording.wait(RECORDING_TIMEOUT):
            log.warning("the X server has not started recording keys yet: a press may be missed")
        listener = self._listener
        threading.Thread(
            target=self._watch, args=(listener,), name="hotkey-watch", daemon=True
        ).start()

    def _watch(self, listener: Any) -> None:
        """Waits (blocked, no polling) for pynput's thread to end; reports it if unasked."""
        listener.join()
        if self._listener is listener:
            with contextlib.suppress(RuntimeError):
                reason = MACOS_PERMISSION if _untrusted(listener) else LISTENER_STOPPED
                self._loop.call_soon_threadsafe(self._on_lost, reason)

    def stop(self) -> None:
        if self._listener is not None:
            self._listener.stop()
            self._listener = None
        if self._settle is not None:
            self._settle.cancel()

    def _from_thread(self, handler: Callable[[str, float], None], key: Any) -> None:
        name = key_name(key)
        if name is not None:
            with contextlib.suppress(RuntimeError):  # loop closed: quitting
                self._loop.call_soon_threadsafe(handler, name, time.monotonic())

    def _press(self, name: str, now: float) -> None:
        self._emit(self._tracker.press(name, now), now)

    def _release(self, name: str, now: float) -> None:
        self._emit(self._tracker.release(name, now), now)
        if self._settle is not None:
            self._settle.cancel()
        self._settle = self._loop.call_later(AUTOREPEAT_GAP * 1.5, self._tick)

    def _tick(self) -> None:
        self._settle = None
        now = time.monotonic()
        self._emit(self._tracker.tick(now), now)

    def _emit(self, intents: list[Intent], key_time: float) -> None:
        for intent in intents:
            log.debug("hotkey %s (key event at %.6f)", intent.value, key_time)
            self._on_intent(intent)
