"""The GNOME/KDE routes through the XDG portals, against the stand-in portal
(tests/support/portal_stand_in.py) on a private session bus: typing exact Unicode as
RemoteDesktop keysyms, consent remembered by the restore token, push-to-talk from
GlobalShortcuts' Activated/Deactivated; and the stand-in refusing what the portal refuses."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from app.core.hotkey import Intent, Mode, parse_chord
from app.core.voice_edits import Key
from app.desktop.portal.bus import PortalBus, PortalError
from app.desktop.portal.global_shortcuts import PortalHotkeyListener, preferred_trigger
from app.desktop.portal.restore_token import RestoreTokenStore
from app.desktop.typists.base import TypingError
from app.desktop.typists.keysyms import SPECIAL, UNICODE_KEYSYM_OFFSET
from app.desktop.typists.portal_keyboard import (
    BACKSPACE,
    REMOTE_DESKTOP,
    RETURN,
    SHIFT_L,
    TAB,
    PortalTypist,
    offers_keyboard,
)
from tests.support.desktop import until
from tests.support.private_bus import private_session_bus

ROOT = Path(__file__).resolve().parents[2]
EXACT = "Größe “quoted” café… 日本語 €5\n\tok"
CONTROL = "org.kyutai.PortalStandIn"
GLOBAL_SHORTCUTS = "org.freedesktop.portal.GlobalShortcuts"


@pytest.fixture
def bus_env(tmp_path: Path) -> Iterator[dict[str, str]]:
    with private_session_bus(tmp_path) as address:
        yield {"DBUS_SESSION_BUS_ADDRESS": address}


@pytest.fixture
def portal(bus_env: dict[str, str]) -> Iterator[dict[str, str]]:
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.support.portal_stand_in",
            bus_env["DBUS_SESSION_BUS_ADDRESS"],
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
    )
    try:
        assert process.stdout is not None
        assert process.stdout.readline().strip() == b"ready"
        yield bus_env
    finally:
        process.terminate()
        process.wait(timeout=10)


def control(env: dict[str, str], member: str, signature: str | None = None, *args: Any) -> Any:
    bus = PortalBus(env)
    try:
        return bus.call(CONTROL, member, signature, args, path="/org/kyutai/PortalStandIn")
    finally:
        bus.close()


def log(env: dict[str, str]) -> dict[str, Any]:
    return json.loads(control(env, "Log")[0])  # type: ignore[no-any-return]


def typed(keysyms: list[list[int]]) -> str:
    """What a keyboard would type from (keysym, state) pairs: a character per press."""
    special = {value: key for key, value in SPECIAL.items() if key != "\r"}
    presses = [keysym for keysym, state in keysyms if state == 1]
    assert [state for _, state in keysyms] == [1, 0] * len(presses)  # each press released
    return "".join(
        special.get(k) or chr(k & ~UNICODE_KEYSYM_OFFSET if k > 0xFFFF else k) for k in presses
    )


def test_the_portal_typist_types_exact_unicode_as_keysyms(
    portal: dict[str, str], tmp_path: Path
) -> None:
    typist = PortalTypist(portal, RestoreTokenStore(tmp_path / "token"))
    assert offers_keyboard(portal)
    typist.type(EXACT)
    typist.type(" more")
    typist.close()
    record = log(portal)
    assert typed(record["keysyms"]) == EXACT + " more"
    members = [call["member"] for call in record["calls"] if call["interface"] == REMOTE_DESKTOP]
    assert members[:3] == ["CreateSession", "SelectDevices", "Start"]
    select = next(c for c in record["calls"] if c["member"] == "SelectDevices")
    options = select["args"][1]
    assert options["types"] == ["u", 1]
    assert options["persist_mode"] == ["u", 2]
    assert record["dialogs"] == ["RemoteDesktop.Start"]  # once for the whole session


def test_the_portal_typist_scratches_and_presses_keys(
    portal: dict[str, str], tmp_path: Path
) -> None:
    """ "scratch that" is one BackSpace per character typed; Shift+Return holds Shift."""
    typist = PortalTypist(portal, RestoreTokenStore(tmp_path / "token"))
    typist.type("café")
    typist.delete(2)
    typist.press(Key.SHIFT_RETURN)
    typist.press(Key.TAB)
    typist.close()
    keysyms = [tuple(pair) for pair in log(portal)["keysyms"]]
    assert keysyms[8:] == [
        (BACKSPACE, 1), (BACKSPACE, 0), (BACKSPACE, 1), (BACKSPACE, 0),
        (SHIFT_L, 1), (RETURN, 1), (RETURN, 0), (SHIFT_L, 0),
        (TAB, 1), (TAB, 0),
    ]  # fmt: skip


def test_consent_is_asked_once_and_remembered_by_the_restore_token(
    portal: dict[str, str], tmp_path: Path
) -> None:
    tokens = RestoreTokenStore(tmp_path / "state" / "token")
    first = PortalTypist(portal, tokens)
    first.type("a")
    first.close()
    token = tokens.load()
    assert token
    second = PortalTypist(portal, tokens)
    second.type("b")
    second.close()
    record = log(portal)
    assert record["dialogs"] == ["RemoteDesktop.Start"]  # the second start was restored
    selects = [c["args"][1] for c in record["calls"] if c["member"] == "SelectDevices"]
    assert "restore_token" not in selects[0]
    assert selects[1]["restore_token"] == ["s", token]
    assert tokens.load() not in (None, token)  # tokens are single use: the new one is kept
    assert (tmp_path / "state" / "token").stat().st_mode & 0o777 == 0o600


def test_a_refused_dialog_raises_a_typing_error_that_says_so_and_types_nothing(
    portal: dict[str, str], tmp_path: Path
) -> None:
    control(portal, "SetConsent", "s", "deny")
    typist = PortalTypist(portal, RestoreTokenStore(tmp_path / "token"))
    with pytest.raises(TypingError, match="cancelled in the portal's dialog"):
        typist.type("secret")
    assert log(portal)["keysyms"] == []


def test_without_a_portal_the_keyboard_is_not_offered_and_typing_says_why(
    bus_env: dict[str, str], tmp_path: Path
) -> None:
    assert not offers_keyboard(bus_env)
    assert not offers_keyboard({})
    with pytest.raises(TypingError, match="RemoteDesktop portal"):
        PortalTypist(bus_env, RestoreTokenStore(tmp_path / "token")).type("x")


# -- the stand-in is as strict as the portal ------------------------------------------------


def rd(bus: PortalBus, member: str, signature: str, *args: Any) -> tuple[Any, ...]:
    return bus.call(REMOTE_DESKTOP, member, signature, args)


def session(bus: PortalBus, interface: str = REMOTE_DESKTOP) -> str:
    created = bus.request(
        interface, "CreateSession", "a{sv}", (), {"session_handle_token": ("s", "s1")}, timeout=5
    )
    return str(created["session_handle"])


def test_request_and_session_handles_follow_the_spec(portal: dict[str, str]) -> None:
    bus = PortalBus(portal)
    sender = bus.unique_name[1:].replace(".", "_")
    (handle,) = rd(
        bus,
        "CreateSession",
        "a{sv}",
        {"handle_token": ("s", "tok1"), "session_handle_token": ("s", "s9")},
    )
    assert handle == f"/org/freedesktop/portal/desktop/request/{sender}/tok1"
    assert session(bus) == f"/org/freedesktop/portal/desktop/session/{sender}/s1"
    with pytest.raises(PortalError, match="InvalidArgument: Invalid token"):
        rd(bus, "CreateSession", "a{sv}", {"handle_token": ("s", "bad-token")})
    with pytest.raises(PortalError, match="Missing token"):
        rd(bus, "CreateSession", "a{sv}", {})
    bus.close()


def test_keysyms_need_selected_devices_a_started_session_and_the_right_owner(
    portal: dict[str, str],
) -> None:
    bus, other = PortalBus(portal), PortalBus(portal)
    handle = session(bus)
    refused = "not allowed to call NotifyKeyboard methods"
    with pytest.raises(PortalError, match=refused):
        rd(bus, "NotifyKeyboardKeysym", "oa{sv}iu", handle, {}, 0x61, 1)
    # the real front end lets Start come before SelectDevices; keysyms are refused then
    bus.request(REMOTE_DESKTOP, "Start", "osa{sv}", (handle, ""), {}, timeout=5)
    with pytest.raises(PortalError, match=refused):
        rd(bus, "NotifyKeyboardKeysym", "oa{sv}iu", handle, {}, 0x61, 1)
    with pytest.raises(PortalError, match="Can only start once"):
        rd(bus, "Start", "osa{sv}", handle, "", {})
    with pytest.raises(PortalError, match="Invalid state"):
        rd(bus, "SelectDevices", "oa{sv}", handle, {"types": ("u", 1)})
    with pytest.raises(PortalError, match="AccessDenied: Invalid session"):
        rd(other, "NotifyKeyboardKeysym", "oa{sv}iu", handle, {}, 0x61, 1)
    second = session(other)
    with pytest.raises(PortalError, match="Unsupported device type"):
        rd(other, "SelectDevices", "oa{sv}", second, {"types": ("u", 8)})
    with pytest.raises(PortalError, match="Invalid persist mode"):
        rd(other, "SelectDevices", "oa{sv}", second, {"persist_mode": ("u", 3)})
    with pytest.raises(PortalError, match="Expected type 'u'"):
        rd(other, "SelectDevices", "oa{sv}", second, {"types": ("s", "keyboard")})
    bus.close()
    other.close()


def test_global_shortcuts_need_an_app_id_registered_before_any_portal_call(
    portal: dict[str, str],
) -> None:
    bus = PortalBus(portal)
    with pytest.raises(PortalError, match="NotAllowed: An app id is required"):
        bus.call(
            GLOBAL_SHORTCUTS, "CreateSession", "a{sv}", ({"session_handle_token": ("s", "g")},)
        )
    with pytest.raises(PortalError, match="before any portal method call"):
        bus.register_app()
    fresh = PortalBus(portal)
    fresh.register_app()
    with pytest.raises(PortalError, match="already associated"):
        fresh.register_app()
    handle = session(fresh, GLOBAL_SHORTCUTS)
    shortcut = [("dictate", {"description": ("s", "Dictate")})]
    fresh.request(
        GLOBAL_SHORTCUTS, "BindShortcuts", "oa(sa{sv})sa{sv}", (handle, shortcut, ""), {}, timeout=5
    )
    with pytest.raises(PortalError, match="only attempt to bind shortcuts of a session once"):
        fresh.call(
            GLOBAL_SHORTCUTS, "BindShortcuts", "oa(sa{sv})sa{sv}", (handle, shortcut, "", {})
        )
    bus.close()
    fresh.close()


# -- push-to-talk through GlobalShortcuts ---------------------------------------------------


def test_preferred_trigger_follows_the_shortcuts_spec() -> None:
    assert preferred_trigger(parse_chord("<f9>")) == "F9"
    assert preferred_trigger(parse_chord("<ctrl>+<alt>+d")) == "CTRL+ALT+d"
    assert preferred_trigger(parse_chord("<cmd>+<shift>+<f12>")) == "SHIFT+LOGO+F12"


@pytest.mark.parametrize(
    ("mode", "expected"),
    [(Mode.HOLD, [Intent.START, Intent.STOP]), (Mode.TOGGLE, [Intent.TOGGLE])],
)
async def test_activated_and_deactivated_give_press_and_release(
    portal: dict[str, str], mode: Mode, expected: list[Intent]
) -> None:
    intents: list[Intent] = []
    listener = PortalHotkeyListener(parse_chord("<f9>"), mode, intents.append, env=portal)
    await asyncio.to_thread(listener.start)
    try:
        assert listener.trigger == "Press F9"
        assert await asyncio.to_thread(control, portal, "Press", "s", "dictate") == (1,)
        await until(lambda: len(intents) >= 1, 10, "no intent on Activated")
        assert await asyncio.to_thread(control, portal, "Release", "s", "dictate") == (1,)
        if mode is Mode.HOLD:
            await until(lambda: len(intents) >= 2, 10, "no intent on Deactivated")
        else:  # a release in toggle mode does nothing: press again to stop
            await asyncio.to_thread(control, portal, "Press", "s", "dictate")
            await until(lambda: len(intents) >= 2, 10, "no second toggle")
            expected = [Intent.TOGGLE, Intent.TOGGLE]
        assert intents == expected
    finally:
        listener.stop()
    # Stopping closes the connection; the portal closes that peer's sessions.
    await until(lambda: control(portal, "Press", "s", "dictate") == (0,), 10, "still bound")
    calls = log(portal)["calls"]
    assert [c["member"] for c in calls if c["interface"] != "org.freedesktop.DBus.Properties"][
        :3
    ] == [
        "Register",
        "CreateSession",
        "BindShortcuts",
    ]


async def test_a_refused_binding_says_so(portal: dict[str, str]) -> None:
    await asyncio.to_thread(control, portal, "SetConsent", "s", "deny")
    listener = PortalHotkeyListener(parse_chord("<f9>"), Mode.HOLD, lambda intent: None, env=portal)
    with pytest.raises(PortalError, match="cancelled"):
        await asyncio.to_thread(listener.start)


async def test_the_sessions_of_a_vanished_connection_are_closed(portal: dict[str, str]) -> None:
    bus = PortalBus(portal)
    bus.register_app()
    handle = session(bus, GLOBAL_SHORTCUTS)
    shortcut = [("dictate", {"description": ("s", "Dictate")})]
    bus.request(
        GLOBAL_SHORTCUTS, "BindShortcuts", "oa(sa{sv})sa{sv}", (handle, shortcut, ""), {}, timeout=5
    )
    assert control(portal, "Press", "s", "dictate") == (1,)
    bus.close()  # no Session.Close: xdp-session.c closes a disconnected peer's sessions
    await until(lambda: control(portal, "Press", "s", "dictate") == (0,), 10, "still bound")
