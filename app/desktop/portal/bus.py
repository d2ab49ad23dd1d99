"""Calling xdg-desktop-portal over the session D-Bus (jeepney, blocking; one thread each).

The request/response flow of the specification (flatpak/xdg-desktop-portal,
data/org.freedesktop.portal.Request.xml): a method that needs the user returns the object
path of a Request at once, and its result comes later in that Request's Response signal
(0 success, 1 cancelled by the user, 2 ended otherwise). The caller names the Request with
a ``handle_token``, so the path is known, and the signal subscribed to, before the call:
``/org/freedesktop/portal/desktop/request/SENDER/TOKEN``, SENDER the caller's unique name
without ':' and with '.' as '_'. Portals older than 0.9 choose their own path, so the path
returned is the one waited on.
"""

from __future__ import annotations

import contextlib
import secrets
import socket
import time
from collections.abc import Mapping
from typing import Any

from jeepney import DBusAddress, MatchRule, MessageType, new_method_call
from jeepney.bus_messages import message_bus
from jeepney.io.blocking import DBusConnection, open_dbus_connection
from jeepney.low_level import HeaderFields, Message

from app.core.errors import AppError

BUS_NAME = "org.freedesktop.portal.Desktop"
OBJECT_PATH = "/org/freedesktop/portal/desktop"
REQUEST = "org.freedesktop.portal.Request"
SESSION = "org.freedesktop.portal.Session"
APP_ID = "kyutai-dictate"  # the basename of the app's .desktop file
CALL_TIMEOUT = 5.0  # seconds for a method's reply (not the user's answer)

Variant = tuple[str, Any]  # jeepney's form of a D-Bus variant: (signature, value)


class PortalError(AppError):
    """The portal is missing, refused a call, or the user said no; the message says which."""


class PortalCancelled(PortalError):
    """The user cancelled the portal's dialog (Response 1) or it ended otherwise (2)."""


def new_token() -> str:
    """A ``handle_token``: unique, not guessable, prefixed for this app (the spec's advice)."""
    return f"kyutai_dictate_{secrets.token_hex(8)}"


def plain(results: Mapping[str, Variant]) -> dict[str, Any]:
    """A vardict's values without their signatures."""
    return {key: value for key, (_, value) in results.items()}


class PortalBus:
    """One connection to the session bus, for calls to the portal."""

    def __init__(self, env: Mapping[str, str]) -> None:
        address = env.get("DBUS_SESSION_BUS_ADDRESS")
        if not address:
            raise PortalError("no session D-Bus (DBUS_SESSION_BUS_ADDRESS is not set)")
        try:
            self.connection: DBusConnection = open_dbus_connection(address)
        except (OSError, ValueError) as error:
            raise PortalError(f"cannot reach the session D-Bus: {error}") from None
        self._responses = MatchRule(type="signal", interface=REQUEST, member="Response")
        self._subscribed = False

    @property
    def unique_name(self) -> str:
        return str(self.connection.unique_name)

    def call(
        self,
        interface: str,
        method: str,
        signature: str | None = None,
        body: tuple[Any, ...] = (),
        *,
        path: str = OBJECT_PATH,
        timeout: float = CALL_TIMEOUT,
    ) -> tuple[Any, ...]:
        """Call a method and return its reply's body; an error reply raises PortalError."""
        message = new_method_call(DBusAddress(path, BUS_NAME, interface), method, signature, body)
        try:
            reply = self.connection.send_and_get_reply(message, timeout=timeout)
        except TimeoutError:
            raise PortalError(f"the portal did not answer {method} in {timeout:.0f} s") from None
        except OSError as error:
            raise PortalError(f"the session D-Bus went away: {error}") from None
        return _body(reply, method)

    def subscribe(self, rule: MatchRule) -> None:
        """Ask the bus to send this connection the signals ``rule`` matches."""
        _body(
            self.connection.send_and_get_reply(message_bus.AddMatch(rule), timeout=CALL_TIMEOUT),
            "AddMatch",
        )

    def request(
        self,
        interface: str,
        method: str,
        signature: str,
        args: tuple[Any, ...],
        options: dict[str, Variant],
        *,
        timeout: float,
    ) -> dict[str, Any]:
        """Call a method that answers through a Request; return the Response's results.

        ``args`` precede the options vardict (the last argument, which gets the
        ``handle_token``); ``timeout`` bounds the wait for the user's answer.
        """
        if not self._subscribed:
            self.subscribe(self._responses)
            self._subscribed = True
        token = new_token()
        options = {**options, "handle_token": ("s", token)}
        with self.connection.filter(self._responses, bufsize=64) as responses:
            (handle,) = self.call(interface, method, signature, (*args, options))
            deadline = time.monotonic() + timeout
            while True:
                remaining = deadline - time.monotonic()
                try:
                    signal = self.connection.recv_until_filtered(
                        responses, timeout=max(remaining, 0)
                    )
                except TimeoutError:
                    self._close_request(handle)
                    raise PortalError(f"no answer to {method} within {timeout:.0f} s") from None
                if signal.header.fields.get(HeaderFields.path) == handle:
                    break
        response, results = signal.body
        if response == 1:
            raise PortalCancelled(f"{method}: the request was cancelled in the portal's dialog")
        if response != 0:
            raise PortalCancelled(f"{method}: the portal ended the request (response {response})")
        return plain(results)

    def _close_request(self, handle: str) -> None:
        with contextlib.suppress(PortalError):  # it may be gone already
            self.call(REQUEST, "Close", path=handle)

    def close_session(self, handle: str) -> None:
        """Close a portal session (Session.xml: Close); gone already is fine."""
        with contextlib.suppress(PortalError):
            self.call(SESSION, "Close", path=handle)

    def property(self, interface: str, name: str) -> Any:
        """A property of the portal object (org.freedesktop.DBus.Properties.Get)."""
        (variant,) = self.call("org.freedesktop.DBus.Properties", "Get", "ss", (interface, name))
        return variant[1]

    def register_app(self) -> None:
        """Tell the portal this connection is the app (org.freedesktop.host.portal.Registry,
        xdg-desktop-portal 1.19+), so it has an app id: GlobalShortcuts requires one. It must
        come before any other portal call; an older portal without it is fine."""
        try:
            self.call("org.freedesktop.host.portal.Registry", "Register", "sa{sv}", (APP_ID, {}))
        except PortalError as error:
            if "UnknownMethod" not in str(error) and "UnknownInterface" not in str(error):
                raise

    def close(self) -> None:
        """Close the connection; a thread blocked reading it wakes with an error."""
        with contextlib.suppress(OSError):
            self.connection.sock.shutdown(socket.SHUT_RDWR)
        self.connection.close()


def _body(reply: Message, method: str) -> tuple[Any, ...]:
    if reply.header.message_type == MessageType.error:
        name = reply.header.fields.get(HeaderFields.error_name, "error")
        detail = reply.body[0] if reply.body else ""
        raise PortalError(f"the portal refused {method}: {name}: {detail}")
    return tuple(reply.body)
