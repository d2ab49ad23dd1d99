"""Which typing backend this session gets (``auto`` resolved), and making it."""

from __future__ import annotations

import shutil
import sys
from collections.abc import Callable, Mapping

from app.core.desktop_session import session_kind
from app.core.settings import TypingMethod
from app.desktop.typists.base import TypingError, Typist
from app.desktop.typists.clipboard import WAYLAND_CLIPBOARD, X11_CLIPBOARD, ClipboardTypist
from app.desktop.typists.command import WTYPE, XDOTOOL, YDOTOOL, CommandTypist, TypingCommand
from app.desktop.typists.pynput_typist import PynputTypist

COMMANDS: dict[TypingMethod, TypingCommand] = {
    TypingMethod.XDOTOOL: XDOTOOL,
    TypingMethod.WTYPE: WTYPE,
    TypingMethod.YDOTOOL: YDOTOOL,
}
NO_WAYLAND_TOOL = (
    "no tool to type on Wayland: install wtype for Sway, Hyprland and other wlroots "
    "compositors (apt install wtype), or ydotool for any compositor, with ydotoold running "
    "(apt install ydotool)"
)
NO_DISPLAY = "no desktop session to type into: neither DISPLAY nor WAYLAND_DISPLAY is set"


def resolve_method(
    method: TypingMethod,
    platform: str,
    env: Mapping[str, str],
    which: Callable[[str], str | None],
) -> TypingMethod:
    """The method to use: ``method`` itself unless it is AUTO, then the best one here.

    AUTO: pynput on Windows and macOS, XTEST on X11, wtype or else ydotool on Wayland;
    on GNOME and KDE, whose compositors lack the virtual-keyboard protocol wtype needs,
    ydotool first. Raises :class:`TypingError` saying what to install when nothing fits.
    """
    if method is not TypingMethod.AUTO:
        return method
    if platform in ("win32", "darwin"):
        return TypingMethod.PYNPUT
    kind = session_kind(env)
    if kind == "x11":
        return TypingMethod.XTEST
    if kind == "wayland":
        desktops = set(env.get("XDG_CURRENT_DESKTOP", "").upper().split(":"))
        tools = [TypingMethod.WTYPE, TypingMethod.YDOTOOL]
        if desktops & {"GNOME", "KDE"}:
            tools.reverse()
        for tool in tools:
            if which(tool.value):
                return tool
        raise TypingError(NO_WAYLAND_TOOL)
    raise TypingError(NO_DISPLAY)


def open_typist(method: TypingMethod, env: Mapping[str, str]) -> Typist:
    """The typist for ``method`` (AUTO resolved for this platform and ``env``)."""
    method = resolve_method(
        method, sys.platform, env, lambda program: shutil.which(program, path=env.get("PATH"))
    )
    if method in COMMANDS:
        return CommandTypist(COMMANDS[method], env)
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
