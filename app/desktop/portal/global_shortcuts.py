"""Push-to-talk through the GlobalShortcuts portal (KDE Plasma 5.27+, GNOME 48+).

The flow of flatpak/xdg-desktop-portal's data/org.freedesktop.portal.GlobalShortcuts.xml:
the app registers its id first (org.freedesktop.host.portal.Registry: the portal refuses
CreateSession to an app without one, desktop-portal/global-shortcuts.c), CreateSession,
BindShortcuts once per session with the shortcut's id, description and preferred trigger
(the user may pick another key in the portal's dialog), then the Activated and Deactivated
signals say when the key goes down and up: press and release, so hold mode works.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Callable, Mapping

from jeepney import MatchRule
from jeepney.low_level import HeaderFields

from app.core.hotkey import Chord, Intent, Mode
from app.desktop.portal.bus import CALL_TIMEOUT, PortalBus, PortalError, new_token

GLOBAL_SHORTCUTS = "org.freedesktop.portal.GlobalShortcuts"
SHORTCUT_ID = "dictate"
BIND_TIMEOUT = 300.0  # seconds the user has to answer the portal's dialog
# pynput's key names to the shortcuts specification's (specifications.freedesktop.org/
# shortcuts-spec): modifiers CTRL ALT SHIFT LOGO, keys by their XKB keysym names.
TRIGGER_NAMES = {"ctrl": "CTRL", "alt": "ALT", "shift": "SHIFT", "cmd": "LOGO", "alt_gr": "ALT"}
MODIFIER_ORDER = ("CTRL", "ALT", "SHIFT", "LOGO")

log = logging.getLogger(__name__)


def preferred_trigger(chord: Chord) -> str:
    """``<ctrl>+<f9>`` -> ``CTRL+F9`` (the trigger the portal proposes to the user)."""
    mods = {TRIGGER_NAMES[key] for key in chord.keys if key in TRIGGER_NAMES}
    keys = [key for key in chord.keys if key not in TRIGGER_NAMES]
    names = [key.upper() if key.startswith("f") and key[1:].isdigit() else key for key in keys]
    return "+".join([*(m for m in MODIFIER_ORDER if m in mods), *names])


def global_shortcuts_version(env: Mapping[str, str]) -> int | None:
    """The GlobalShortcuts interface's version, or None where no portal offers it."""
    try:
        bus = PortalBus(env)
    except PortalError:
        return None
    try:
        return int(bus.property(GLOBAL_SHORTCUTS, "version"))
    except (PortalError, TypeError, ValueError):
        return None
    finally:
        bus.close()


class PortalHotkeyListener:
    """Like ``HotkeyListener``: ``start()``, ``stop()``; ``on_intent`` on the loop."""

    def __init__(
        self,
        chord: Chord,
        mode: Mode,
        on_intent: Callable[[Intent], None],
        on_lost: Callable[[str], None] = lambda reason: None,
        env: Mapping[str, str] | None = None,
        bind_timeout: float = BIND_TIMEOUT,
    ) -> None:
        self._chord = chord
        self._mode = mode
        self._on_intent = on_intent
        self._on_lost = on_lost
        self._env = dict(env or {})
        self._bind_timeout = bind_timeout
        self._loop = asyncio.get_running_loop()
        self._bus: PortalBus | None = None
        self._session = ""
        self._down = False
        self.trigger = ""  # what the portal says triggers it (its description)

    def start(self) -> None:
        """Bind the shortcut (the portal may ask the user); raises PortalError if it cannot."""
        bus = self._bus = PortalBus(self._env)
        try:
            bus.register_app()
            created = bus.request(
                GLOBAL_SHORTCUTS,
                "CreateSession",
                "a{sv}",
                (),
                {"session_handle_token": ("s", new_token())},
                timeout=CALL_TIMEOUT,
            )
            self._session = str(created["session_handle"])
            for member in ("Activated", "Deactivated"):
                bus.subscribe(MatchRule(type="signal", interface=GLOBAL_SHORTCUTS, member=member))
            shortcut = {
                "description": ("s", "Dictate (hold to talk)"),
                "preferred_trigger": ("s", preferred_trigger(self._chord)),
            }
            bound = bus.request(
                GLOBAL_SHORTCUTS,
                "BindShortcuts",
                "oa(sa{sv})sa{sv}",
                (self._session, [(SHORTCUT_ID, shortcut)], ""),
                {},
                timeout=self._bind_timeout,
            )
        except PortalError:
            self.stop()
            raise
        shortcuts = dict(bound.get("shortcuts", []))
        if SHORTCUT_ID not in shortcuts:
            self.stop()
            raise PortalError("the shortcut was not bound in the portal's dialog")
        described = shortcuts[SHORTCUT_ID].get("trigger_description", ("s", ""))
        self.trigger = str(described[1])
        threading.Thread(
            target=self._listen, args=(bus,), name="portal-hotkey", daemon=True
        ).start()

    def _listen(self, bus: PortalBus) -> None:
        """Blocked on the bus (no polling) until stop() closes it."""
        rule = MatchRule(type="signal", interface=GLOBAL_SHORTCUTS)
        try:
            with bus.connection.filter(rule, bufsize=256) as signals:
                while True:
                    signal = bus.connection.recv_until_filtered(signals)
                    session, shortcut, *_ = signal.body
                    if session == self._session and shortcut == SHORTCUT_ID:
                        down = signal.header.fields.get(HeaderFields.member) == "Activated"
                        self._to_loop(self._key, down)
        except Exception as error:  # the connection closed: by stop(), or the bus went away
            if self._bus is bus:
                log.warning("the GlobalShortcuts portal connection ended: %s", error)
                self._to_loop(self._lost, "the portal's shortcut connection ended")

    def _to_loop(self, handler: Callable[..., None], *args: object) -> None:
        with contextlib.suppress(RuntimeError):  # loop closed: quitting
            self._loop.call_soon_threadsafe(handler, *args)

    def _key(self, down: bool) -> None:
        if down == self._down:
            return  # a repeated Activated is no new press
        self._down = down
        if self._mode is Mode.HOLD:
            self._on_intent(Intent.START if down else Intent.STOP)
        elif down:
            self._on_intent(Intent.TOGGLE)

    def _lost(self, reason: str) -> None:
        if self._bus is not None:
            self._bus = None
            self._on_lost(reason)

    def stop(self) -> None:
        """Close the connection: the listening thread wakes and ends, and the portal closes
        the session of a connection that left (desktop-portal/xdp-session.c,
        on_peer_disconnect). No Session.Close: the thread owns the connection's reads."""
        bus, self._bus = self._bus, None
        if bus is not None:
            bus.close()


async def portal_hotkey(
    chord: Chord,
    mode: Mode,
    on_intent: Callable[[Intent], None],
    on_lost: Callable[[str], None],
    env: Mapping[str, str],
) -> PortalHotkeyListener | None:
    """A started listener, or None where no GlobalShortcuts portal answers; PortalError
    when the portal or the user refuses. The waits (the dialog) run off the loop."""
    if await asyncio.to_thread(global_shortcuts_version, env) is None:
        return None
    listener = PortalHotkeyListener(chord, mode, on_intent, on_lost, env)
    await asyncio.to_thread(listener.start)
    return listener
