"""Which typing backend this session gets (``auto`` resolved), and making it.

The choice itself is pure (``app.core.typing_choice``); this module gathers its facts:
the tools on PATH, whether the RemoteDesktop portal offers a keyboard, whether uinput or
ydotoold is there, and whether Settings allow pasting.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from app.core.desktop_session import session_kind
from app.core.settings import TypingMethod
from app.core.typing_choice import TypingFacts, choose_typing, wayland_routes
from app.desktop.typists.base import TypingError, Typist
from app.desktop.typists.clipboard import WAYLAND_CLIPBOARD, X11_CLIPBOARD, ClipboardTypist
from app.desktop.typists.command import WTYPE, XDOTOOL, CommandTypist, TypingCommand
from app.desktop.typists.pynput_typist import PynputTypist

COMMANDS: dict[TypingMethod, TypingCommand] = {
    TypingMethod.XDOTOOL: XDOTOOL,
    TypingMethod.WTYPE: WTYPE,
}
NO_DISPLAY = "no desktop session to type into: neither DISPLAY nor WAYLAND_DISPLAY is set"
WAYLAND_TOOLS = ("wtype", "dotool", "ydotool", "wl-copy", "wl-paste")


def uinput_writable() -> bool:
    return os.access("/dev/uinput", os.W_OK)


def ydotoold_socket(env: Mapping[str, str]) -> bool:
    """ydotool 1.x's socket, where its client looks for it (Client/ydotool.c)."""
    runtime = env.get("XDG_RUNTIME_DIR")
    path = env.get("YDOTOOL_SOCKET") or (
        f"{runtime}/.ydotool_socket" if runtime else "/tmp/.ydotool_socket"
    )
    return Path(path).exists()


def portal_keyboard(env: Mapping[str, str]) -> bool:
    from app.desktop.typists.portal_keyboard import offers_keyboard

    return offers_keyboard(env)


@dataclass(frozen=True)
class Probes:
    """How the facts that need I/O are found (tests give their own)."""

    portal_keyboard: Callable[[Mapping[str, str]], bool] = portal_keyboard
    uinput: Callable[[], bool] = uinput_writable
    ydotoold: Callable[[Mapping[str, str]], bool] = ydotoold_socket
    paste_allowed: bool = False


def typing_facts(
    platform: str, env: Mapping[str, str], which: Callable[[str], str | None], probes: Probes
) -> TypingFacts:
    """The facts the choice needs; the Wayland ones are looked up only on Wayland."""
    kind = session_kind(env) if platform not in ("win32", "darwin") else None
    if kind != "wayland":
        return TypingFacts(platform, kind)
    desktops = frozenset(env.get("XDG_CURRENT_DESKTOP", "").upper().split(":")) - {""}
    return TypingFacts(
        platform,
        kind,
        desktops,
        tools=frozenset(tool for tool in WAYLAND_TOOLS if which(tool)),
        # asked only where the portal is a route: asking may start xdg-desktop-portal
        portal_keyboard=TypingMethod.PORTAL in wayland_routes(desktops)
        and probes.portal_keyboard(env),
        uinput=probes.uinput(),
        ydotoold=probes.ydotoold(env),
        paste_allowed=probes.paste_allowed,
    )


def resolve_method(
    method: TypingMethod,
    platform: str,
    env: Mapping[str, str],
    which: Callable[[str], str | None],
    probes: Probes | None = None,
) -> TypingMethod:
    """The method to use: ``method`` itself unless it is AUTO, then the best one here
    (``app.core.typing_choice``). Raises :class:`TypingError` saying why nothing fits,
    and what to do; the words are then held."""
    if method is not TypingMethod.AUTO:
        return method
    choice = choose_typing(typing_facts(platform, env, which, probes or Probes()))
    if choice.method is None:
        raise TypingError(choice.why)
    return choice.method


def open_typist(
    method: TypingMethod, env: Mapping[str, str], *, paste_allowed: bool = False
) -> Typist:
    """The typist for ``method`` (AUTO resolved for this platform and ``env``)."""
    method = resolve_method(
        method,
        sys.platform,
        env,
        lambda program: shutil.which(program, path=env.get("PATH")),
        Probes(paste_allowed=paste_allowed),
    )
    if method in COMMANDS:
        return CommandTypist(COMMANDS[method], env)
    if method in (TypingMethod.YDOTOOL, TypingMethod.DOTOOL):
        from app.desktop.typists.uinput_tools import UinputTypist

        return UinputTypist(method, env)
    if method is TypingMethod.PORTAL:
        from app.desktop.typists.portal_keyboard import PortalTypist

        return PortalTypist(env)
    if method is TypingMethod.XTEST:
        from app.desktop.typists.xtest import XTestTypist  # python-xlib is installed on Linux only

        display = env.get("DISPLAY")
        if not display:
            raise TypingError("xtest types on X11, but DISPLAY is not set")
        return XTestTypist(display)
    if method is TypingMethod.PYNPUT:
        return PynputTypist()
    if method is TypingMethod.CLIPBOARD:
        if sys.platform in ("win32", "darwin"):
            raise TypingError("the clipboard method works on Linux only: choose auto or pynput")
        kind = session_kind(env)
        if kind is None:
            raise TypingError(NO_DISPLAY)
        return ClipboardTypist(X11_CLIPBOARD if kind == "x11" else WAYLAND_CLIPBOARD, env)
    raise TypingError(f"no typist for {method.value!r}")
