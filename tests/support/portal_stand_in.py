"""A stand-in for xdg-desktop-portal's RemoteDesktop and GlobalShortcuts, on a private bus.

Written from flatpak/xdg-desktop-portal: the interfaces in data/org.freedesktop.portal.
{RemoteDesktop,GlobalShortcuts,Request,Session}.xml and data/org.freedesktop.host.portal.
Registry.xml; the checks and error replies of the front end in desktop-portal/
remote-desktop.c, global-shortcuts.c, xdp-request.c, xdp-session.c, registry.c and
shared/xdp-utils.c (xdp_is_valid_token). Like the real portal it:

- names each Request /org/freedesktop/portal/desktop/request/SENDER/TOKEN from the caller's
  handle_token ("t" without one), and each Session .../session/SENDER/TOKEN from the
  session_handle_token; an invalid token is InvalidArgument, a missing session token
  "Missing token"; it replies with the handle first, then emits Request::Response;
- refuses a session handle that is unknown or belongs to another connection or interface
  (AccessDenied "Invalid session"); SelectDevices twice or after Start ("Invalid state");
  Start twice ("Can only start once"); NotifyKeyboard* unless the devices were selected, the
  session started and the keyboard granted; types outside 1|2|4 and persist_mode over 2
  (InvalidArgument); a GlobalShortcuts session for a connection without an app id
  (NotAllowed "An app id is required"), an empty shortcut id; Registry.Register twice or
  after a portal call; BindShortcuts a second time in a session (the spec: "only once");
- closes the sessions of a connection that leaves the bus (on_peer_disconnect);
- restore tokens: Start with persist_mode 1 or 2 returns one; SelectDevices with a valid one
  restores the grant without a dialog; each is good once.

The user's answers are scripted: SetConsent("grant"|"deny") on the control object
/org/kyutai/PortalStandIn (interface org.kyutai.PortalStandIn), which also has Press(id) and
Release(id) (the user's key going down and up: Activated/Deactivated to every session that
bound it) and Log() (JSON: the calls received, the keysyms, the dialogs shown).

What it cannot show: a real compositor turning keysyms into characters in a window (the test
decodes the keysyms), a real dialog or permission store, the portal backends' own choices
(xdg-desktop-portal-gnome or -kde may grant fewer devices, choose another trigger, send
Activated repeatedly while a key is held, or close a session when the screen locks),
sandboxed (Flatpak) apps, the app-id check against installed .desktop files, the Session
Closed signal (it never closes a session on its own), and the other portal methods
(pointer, touch, ScreenCast, Clipboard, ListShortcuts, ConfigureShortcuts).

Run: python -m tests.support.portal_stand_in ADDRESS (prints "ready" once it owns its name).
"""

from __future__ import annotations

import json
import re
import secrets
import sys
import time
from dataclasses import dataclass, field
from typing import Any

from jeepney import DBusAddress, MatchRule, MessageType, new_error, new_method_return, new_signal
from jeepney.bus_messages import message_bus
from jeepney.io.blocking import DBusConnection, open_dbus_connection
from jeepney.low_level import HeaderFields, Message

BUS_NAME = "org.freedesktop.portal.Desktop"
ROOT = "/org/freedesktop/portal/desktop"
RD = "org.freedesktop.portal.RemoteDesktop"
GS = "org.freedesktop.portal.GlobalShortcuts"
REQUEST = "org.freedesktop.portal.Request"
SESSION = "org.freedesktop.portal.Session"
REGISTRY = "org.freedesktop.host.portal.Registry"
PROPERTIES = "org.freedesktop.DBus.Properties"
CONTROL = "org.kyutai.PortalStandIn"
CONTROL_PATH = "/org/kyutai/PortalStandIn"

FAILED = "org.freedesktop.DBus.Error.Failed"
ACCESS_DENIED = "org.freedesktop.DBus.Error.AccessDenied"
INVALID_ARGUMENT = "org.freedesktop.portal.Error.InvalidArgument"
NOT_ALLOWED = "org.freedesktop.portal.Error.NotAllowed"
UNKNOWN_METHOD = "org.freedesktop.DBus.Error.UnknownMethod"
ALL_DEVICES = 1 | 2 | 4  # KEYBOARD | POINTER | TOUCHSCREEN


class Refused(Exception):
    def __init__(self, name: str, text: str) -> None:
        super().__init__(text)
        self.name = name


@dataclass
class Session:
    interface: str
    sender: str
    state: str = "init"  # init, started, closed (remote-desktop.c's states)
    devices_selected: bool = False
    types: int = ALL_DEVICES
    persist_mode: int = 0
    restored: int | None = None  # devices a valid restore token brought back
    shared: int = 0
    bound: list[str] = field(default_factory=list)
    tried_bind: bool = False


def valid_token(token: str) -> bool:
    """shared/xdp-utils.c xdp_is_valid_token: name characters, a valid path element."""
    return bool(re.fullmatch(r"[A-Za-z0-9_]+", token))


def escaped(sender: str) -> str:
    return sender.removeprefix(":").replace(".", "_")


def option(options: dict[str, tuple[str, Any]], key: str, signature: str) -> Any:
    """An option's value, refusing a wrong type as xdp_filter_options does."""
    if key not in options:
        return None
    got, value = options[key]
    if got != signature:
        raise Refused(
            INVALID_ARGUMENT, f"Expected type '{signature}' for option '{key}', got '{got}'"
        )
    return value


class StandIn:
    def __init__(self, connection: DBusConnection) -> None:
        self.bus = connection
        self.consent = "grant"
        self.sessions: dict[str, Session] = {}
        self.claimed: set[str] = set()
        self.app_ids: dict[str, str] = {}
        self.called: set[str] = set()  # connections that made a portal call
        self.tokens: dict[str, int] = {}  # restore token -> devices granted
        self.log: dict[str, Any] = {"calls": [], "keysyms": [], "dialogs": []}
        self.pending: list[Message] = []  # signals to send after the reply

    # -- plumbing ------------------------------------------------------------------------

    def serve(self) -> None:
        while True:
            message = self.bus.receive()
            if message.header.fields.get(HeaderFields.member) == "NameOwnerChanged":
                self.peer_gone(*message.body)
                continue
            if message.header.message_type != MessageType.method_call:
                continue
            fields = message.header.fields
            interface, member = fields.get(HeaderFields.interface), fields[HeaderFields.member]
            sender = fields[HeaderFields.sender]
            path = fields[HeaderFields.path]
            if interface != CONTROL:
                self.log["calls"].append(
                    {
                        "interface": interface,
                        "member": member,
                        "path": path,
                        "sender": sender,
                        "args": _jsonable(message.body),
                    }
                )
            try:
                signature, body = self.dispatch(interface, member, path, sender, message.body)
                reply = new_method_return(message, signature, body)
            except Refused as refused:
                reply = new_error(message, refused.name, "s", (str(refused),))
                self.pending.clear()
            self.bus.send(reply)
            for signal in self.pending:
                self.bus.send(signal)
            self.pending.clear()

    def peer_gone(self, name: str, old_owner: str, new_owner: str) -> None:
        """xdp-session.c on_peer_disconnect: a vanished connection's sessions close."""
        if name.startswith(":") and not new_owner:
            self.app_ids.pop(name, None)
            for path in [p for p, s in self.sessions.items() if s.sender == name]:
                del self.sessions[path]

    def dispatch(
        self, interface: str | None, member: str, path: str, sender: str, args: tuple[Any, ...]
    ) -> tuple[str | None, tuple[Any, ...]]:
        if interface == CONTROL:
            return self.control(member, args)
        if interface == PROPERTIES and member == "Get":
            return "v", (self.get_property(*args),)
        if interface == REGISTRY and member == "Register":
            return self.register(sender, args[0])
        if interface == SESSION and member == "Close":
            session = self.sessions.get(path)
            if session is None or session.sender != sender:
                raise Refused(ACCESS_DENIED, "Invalid session")
            session.state = "closed"
            del self.sessions[path]
            return None, ()
        if interface == REQUEST and member == "Close":
            return None, ()
        handler = getattr(self, f"{'rd' if interface == RD else 'gs'}_{member}", None)
        if interface not in (RD, GS) or handler is None:
            raise Refused(UNKNOWN_METHOD, f"No such method '{member}'")
        self.called.add(sender)
        return handler(sender, *args)

    def request(self, sender: str, options: dict[str, tuple[str, Any]]) -> str:
        token = option(options, "handle_token", "s") or "t"
        if not valid_token(token):
            raise Refused(INVALID_ARGUMENT, f"Invalid token: {token}")
        handle = f"{ROOT}/request/{escaped(sender)}/{token}"
        while handle in self.claimed:  # xdp-request.c: a fresh suffix while the path is taken
            handle = f"{ROOT}/request/{escaped(sender)}/{token}/{secrets.token_hex(4)}"
        self.claimed.add(handle)
        return handle

    def respond(self, handle: str, response: int, results: dict[str, tuple[str, Any]]) -> None:
        self.pending.append(
            new_signal(
                DBusAddress(handle, interface=REQUEST), "Response", "ua{sv}", (response, results)
            )
        )

    def new_session(
        self, interface: str, sender: str, options: dict[str, Any]
    ) -> tuple[str | None, tuple[Any, ...]]:
        handle = self.request(sender, options)
        token = option(options, "session_handle_token", "s")
        if token is None:
            raise Refused(FAILED, "Missing token")
        if not valid_token(token):
            raise Refused(INVALID_ARGUMENT, f"Invalid token '{token}'")
        path = f"{ROOT}/session/{escaped(sender)}/{token}"
        while path in self.sessions:
            path = f"{ROOT}/session/{escaped(sender)}/{token}/{secrets.token_hex(4)}"
        self.sessions[path] = Session(interface, sender)
        self.respond(handle, 0, {"session_handle": ("s", path)})
        return "o", (handle,)

    def session(self, interface: str, sender: str, path: str) -> Session:
        session = self.sessions.get(path)
        if session is None or session.sender != sender or session.interface != interface:
            raise Refused(ACCESS_DENIED, "Invalid session")
        return session

    # -- RemoteDesktop -------------------------------------------------------------------

    def rd_CreateSession(
        self, sender: str, options: dict[str, Any]
    ) -> tuple[str | None, tuple[Any, ...]]:
        return self.new_session(RD, sender, options)

    def rd_SelectDevices(
        self, sender: str, path: str, options: dict[str, Any]
    ) -> tuple[str | None, tuple[Any, ...]]:
        session = self.session(RD, sender, path)
        if session.devices_selected or session.state != "init":
            raise Refused(FAILED, "Invalid state")
        handle = self.request(sender, options)
        types = option(options, "types", "u")
        if types is not None and types & ~ALL_DEVICES:
            raise Refused(INVALID_ARGUMENT, f"Unsupported device type: {types & ~ALL_DEVICES:x}")
        persist = option(options, "persist_mode", "u") or 0
        if persist > 2:
            raise Refused(INVALID_ARGUMENT, f"Invalid persist mode {persist}")
        restore = option(options, "restore_token", "s")
        session.types = ALL_DEVICES if types is None else types
        session.persist_mode = persist
        if restore is not None and restore in self.tokens:
            session.restored = self.tokens.pop(restore)  # good once
        session.devices_selected = True
        self.respond(handle, 0, {})
        return "o", (handle,)

    def rd_Start(
        self, sender: str, path: str, parent_window: str, options: dict[str, Any]
    ) -> tuple[str | None, tuple[Any, ...]]:
        session = self.session(RD, sender, path)
        if session.state == "started":
            raise Refused(FAILED, "Can only start once")
        if session.state == "closed":
            raise Refused(FAILED, "Invalid session")
        handle = self.request(sender, options)
        if session.restored is not None:
            devices = session.restored
        else:
            self.log["dialogs"].append("RemoteDesktop.Start")
            if self.consent != "grant":
                self.respond(handle, 1, {})
                del self.sessions[path]  # a refused Start closes the session
                return "o", (handle,)
            devices = session.types
        session.state, session.shared = "started", devices
        results: dict[str, tuple[str, Any]] = {"devices": ("u", devices)}
        if session.persist_mode:
            token = secrets.token_hex(16)
            self.tokens[token] = devices
            results["restore_token"] = ("s", token)
        self.respond(handle, 0, results)
        return "o", (handle,)

    def rd_NotifyKeyboardKeysym(
        self, sender: str, path: str, options: dict[str, Any], keysym: int, state: int
    ) -> tuple[str | None, tuple[Any, ...]]:
        session = self.session(RD, sender, path)
        if not (session.devices_selected and session.state == "started" and session.shared & 1):
            raise Refused(FAILED, "Session is not allowed to call NotifyKeyboard methods")
        self.log["keysyms"].append([keysym, state])
        return None, ()

    # -- GlobalShortcuts -----------------------------------------------------------------

    def gs_CreateSession(
        self, sender: str, options: dict[str, Any]
    ) -> tuple[str | None, tuple[Any, ...]]:
        if not self.app_ids.get(sender):
            raise Refused(NOT_ALLOWED, "An app id is required")
        return self.new_session(GS, sender, options)

    def gs_BindShortcuts(
        self,
        sender: str,
        path: str,
        shortcuts: list[tuple[str, dict[str, Any]]],
        parent_window: str,
        options: dict[str, Any],
    ) -> tuple[str | None, tuple[Any, ...]]:
        for shortcut_id, _ in shortcuts:
            if not shortcut_id:
                raise Refused(INVALID_ARGUMENT, "Unexpected empty shortcut id")
        session = self.session(GS, sender, path)
        if session.tried_bind:
            raise Refused(
                FAILED, "An application can only attempt to bind shortcuts of a session once"
            )
        session.tried_bind = True
        handle = self.request(sender, options)
        self.log["dialogs"].append("GlobalShortcuts.BindShortcuts")
        if self.consent != "grant":
            self.respond(handle, 1, {})
            return "o", (handle,)
        bound = []
        for shortcut_id, values in shortcuts:
            description = option(values, "description", "s") or ""
            trigger = option(values, "preferred_trigger", "s") or "unassigned"
            session.bound.append(shortcut_id)
            bound.append(
                (
                    shortcut_id,
                    {
                        "description": ("s", description),
                        "trigger_description": ("s", f"Press {trigger}"),
                    },
                )
            )
        self.respond(handle, 0, {"shortcuts": ("a(sa{sv})", bound)})
        return "o", (handle,)

    # -- the rest ------------------------------------------------------------------------

    def register(self, sender: str, app_id: str) -> tuple[str | None, tuple[Any, ...]]:
        if sender in self.app_ids:
            raise Refused(FAILED, "Connection already associated with an application ID")
        if sender in self.called:
            raise Refused(FAILED, "Registering must be done before any portal method call")
        self.app_ids[sender] = app_id
        return None, ()

    def get_property(self, interface: str, name: str) -> tuple[str, Any]:
        values = {
            (RD, "AvailableDeviceTypes"): ("u", ALL_DEVICES),
            (RD, "version"): ("u", 2),
            (GS, "version"): ("u", 1),
            (REGISTRY, "version"): ("u", 1),
        }
        if (interface, name) not in values:
            raise Refused("org.freedesktop.DBus.Error.InvalidArgs", f"No property {name}")
        return values[(interface, name)]

    def control(self, member: str, args: tuple[Any, ...]) -> tuple[str | None, tuple[Any, ...]]:
        if member == "SetConsent":
            self.consent = args[0]
            return None, ()
        if member == "Log":
            return "s", (json.dumps(self.log),)
        if member in ("Press", "Release"):
            signal = "Activated" if member == "Press" else "Deactivated"
            stamp = int(time.monotonic() * 1000)
            sent = 0
            for path, session in self.sessions.items():
                if session.interface == GS and args[0] in session.bound:
                    self.pending.append(
                        new_signal(
                            DBusAddress(ROOT, interface=GS),
                            signal,
                            "osta{sv}",
                            (path, args[0], stamp, {}),
                        )
                    )
                    sent += 1
            return "u", (sent,)
        raise Refused(UNKNOWN_METHOD, member)


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _jsonable(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(item) for item in value]
    return value


def main(address: str) -> None:
    connection = open_dbus_connection(address)
    connection.send_and_get_reply(message_bus.RequestName(BUS_NAME))
    owners = MatchRule(type="signal", interface="org.freedesktop.DBus", member="NameOwnerChanged")
    connection.send_and_get_reply(message_bus.AddMatch(owners))
    stand_in = StandIn(connection)
    print("ready", flush=True)
    stand_in.serve()


if __name__ == "__main__":
    main(sys.argv[1])
