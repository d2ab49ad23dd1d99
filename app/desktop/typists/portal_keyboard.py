"""Typing through the RemoteDesktop portal's keyboard (GNOME, KDE).

The flow of flatpak/xdg-desktop-portal's data/org.freedesktop.portal.RemoteDesktop.xml:
CreateSession (with a session_handle_token), SelectDevices (types 1: the keyboard;
persist_mode 2: until revoked; the restore_token from last time, so the user is asked only
once), Start (the dialog, unless the token restored the session; its results grant the
devices and give the next restore_token), then NotifyKeyboardKeysym for each character,
pressed (1) and released (0). A keysym is a character, not a key: any Unicode text comes
out exactly on any layout. The portal refuses keysyms before Start, without the keyboard
granted, or for a session of another connection (desktop-portal/remote-desktop.c).
"""

from __future__ import annotations

from collections.abc import Mapping

from app.core.voice_edits import Key
from app.desktop.portal.bus import CALL_TIMEOUT, PortalBus, PortalError, new_token
from app.desktop.portal.restore_token import RestoreTokenStore
from app.desktop.typists.base import TypingError
from app.desktop.typists.keysyms import keysym_for

REMOTE_DESKTOP = "org.freedesktop.portal.RemoteDesktop"
KEYBOARD = 1  # AvailableDeviceTypes / types bit
PERSIST_UNTIL_REVOKED = 2
CONSENT_TIMEOUT = 300.0  # seconds the user has to answer the portal's dialog
# X keysyms (xkbcommon-keysyms.h) of the keys voice commands press
BACKSPACE, RETURN, TAB, SHIFT_L = 0xFF08, 0xFF0D, 0xFF09, 0xFFE1


def offers_keyboard(env: Mapping[str, str]) -> bool:
    """Whether a RemoteDesktop portal answers here and offers a keyboard."""
    try:
        bus = PortalBus(env)
    except PortalError:
        return False
    try:
        return bool(int(bus.property(REMOTE_DESKTOP, "AvailableDeviceTypes")) & KEYBOARD)
    except (PortalError, TypeError, ValueError):
        return False
    finally:
        bus.close()


class PortalTypist:
    """Types through a RemoteDesktop session, started at the first text."""

    can_press = True

    def __init__(
        self,
        env: Mapping[str, str],
        tokens: RestoreTokenStore | None = None,
        consent_timeout: float = CONSENT_TIMEOUT,
    ) -> None:
        self._env = dict(env)
        self._tokens = tokens or RestoreTokenStore()
        self._consent_timeout = consent_timeout
        self._bus: PortalBus | None = None
        self._session: str | None = None

    @property
    def name(self) -> str:
        return "portal"

    def type(self, text: str) -> None:
        """Send each character's keysym, pressed and released."""
        self._send([(keysym_for(char), state) for char in text for state in (1, 0)])

    def delete(self, count: int) -> None:
        """Delete the ``count`` characters before the cursor: one BackSpace each."""
        if count < 0:
            raise ValueError(f"cannot delete a negative count of characters: {count}")
        self._send([(BACKSPACE, state) for _ in range(count) for state in (1, 0)])

    def press(self, key: Key) -> None:
        """Press Return, Tab or Shift+Return."""
        keysym = TAB if key is Key.TAB else RETURN
        taps = [(keysym, 1), (keysym, 0)]
        self._send([(SHIFT_L, 1), *taps, (SHIFT_L, 0)] if key is Key.SHIFT_RETURN else taps)

    def _send(self, events: list[tuple[int, int]]) -> None:
        """Each (keysym, state) in order: 1 pressed, 0 released."""
        if not events:
            return
        try:
            bus, session = self._started()
            for keysym, state in events:
                bus.call(
                    REMOTE_DESKTOP, "NotifyKeyboardKeysym", "oa{sv}iu", (session, {}, keysym, state)
                )
        except PortalError as error:
            self.close()
            raise TypingError(f"the RemoteDesktop portal: {error}") from None

    def _started(self) -> tuple[PortalBus, str]:
        if self._bus is not None and self._session is not None:
            return self._bus, self._session
        bus = self._bus = PortalBus(self._env)
        created = bus.request(
            REMOTE_DESKTOP,
            "CreateSession",
            "a{sv}",
            (),
            {"session_handle_token": ("s", new_token())},
            timeout=CALL_TIMEOUT,
        )
        session = str(created["session_handle"])  # a string, not an object path (the spec)
        self._session = session
        devices: dict[str, tuple[str, object]] = {
            "types": ("u", KEYBOARD),
            "persist_mode": ("u", PERSIST_UNTIL_REVOKED),
        }
        restore = self._tokens.load()
        if restore:
            devices["restore_token"] = ("s", restore)
        bus.request(
            REMOTE_DESKTOP,
            "SelectDevices",
            "oa{sv}",
            (session,),
            devices,
            timeout=self._consent_timeout,
        )
        started = bus.request(
            REMOTE_DESKTOP, "Start", "osa{sv}", (session, ""), {}, timeout=self._consent_timeout
        )
        self._tokens.save(started.get("restore_token"))  # single use: the old one is spent
        if not int(started.get("devices", 0)) & KEYBOARD:
            raise PortalError("the keyboard was not granted in the portal's dialog")
        return bus, session

    def close(self) -> None:
        """End the session (the next text starts one, restored without a dialog)."""
        bus, session = self._bus, self._session
        self._bus = self._session = None
        if bus is not None:
            if session is not None:
                bus.close_session(session)
            bus.close()
