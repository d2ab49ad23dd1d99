"""Which typing route ``auto`` takes on this desktop (pure: decides from facts gathered at
the edge by ``app.desktop.typists.choose``).

On Wayland one row of :data:`WAYLAND_ROUTES` applies, the first whose desktops match
XDG_CURRENT_DESKTOP (the last row, with no desktops, matches any); its routes are tried in
order and the first usable one wins. When none is usable the choice is to hold the words
and say why, never to type through a route that would type them wrong.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from app.core.settings import TypingMethod

PORTAL, WTYPE = TypingMethod.PORTAL, TypingMethod.WTYPE
DOTOOL, YDOTOOL, CLIPBOARD = TypingMethod.DOTOOL, TypingMethod.YDOTOOL, TypingMethod.CLIPBOARD

# GNOME's and KDE's compositors have no virtual-keyboard protocol: wtype cannot type there.
NO_VIRTUAL_KEYBOARD = frozenset({"GNOME", "KDE"})

WAYLAND_ROUTES: tuple[tuple[frozenset[str], tuple[TypingMethod, ...]], ...] = (
    (NO_VIRTUAL_KEYBOARD, (PORTAL, DOTOOL, YDOTOOL, CLIPBOARD)),
    (frozenset(), (WTYPE, DOTOOL, YDOTOOL, CLIPBOARD)),  # any other compositor
)


@dataclass(frozen=True)
class TypingFacts:
    """What the edge found out about this session."""

    platform: str  # sys.platform
    session: Literal["x11", "wayland"] | None
    desktops: frozenset[str] = frozenset()  # XDG_CURRENT_DESKTOP's parts, upper case
    tools: frozenset[str] = frozenset()  # the programs found on PATH
    portal_keyboard: bool = False  # the RemoteDesktop portal offers a keyboard
    uinput: bool = False  # /dev/uinput is writable by this user (dotool, ydotool 0.1.8)
    ydotoold: bool = False  # ydotoold's socket exists (ydotool 1.x types through it)
    paste_allowed: bool = False  # Settings allow the clipboard as the last resort


@dataclass(frozen=True)
class TypingChoice:
    method: TypingMethod | None  # None: hold the words
    why: str  # why this route, or why nothing can type and what to do


def choose_typing(facts: TypingFacts) -> TypingChoice:
    """The route for ``facts``: pynput on Windows and macOS, XTEST on X11, the table's first
    usable route on Wayland; else hold, saying what each route lacks."""
    if facts.platform in ("win32", "darwin"):
        return TypingChoice(TypingMethod.PYNPUT, "pynput types on Windows and macOS")
    if facts.session == "x11":
        return TypingChoice(TypingMethod.XTEST, "XTEST types any character on X11")
    if facts.session is None:
        return TypingChoice(
            None, "no desktop session to type into: neither DISPLAY nor WAYLAND_DISPLAY is set"
        )
    routes = wayland_routes(facts.desktops)
    missing = []
    for method in routes:
        lack = _lacks(method, facts)
        if lack is None:
            return TypingChoice(method, f"{method.value}: the first usable route here")
        missing.append(f"{method.value}: {lack}")
    return TypingChoice(None, "nothing can type here, so the words are held; " + "; ".join(missing))


def wayland_routes(desktops: frozenset[str]) -> tuple[TypingMethod, ...]:
    """The routes tried, in order, on a Wayland desktop."""
    for names, routes in WAYLAND_ROUTES:
        if not names or desktops & names:
            return routes
    return ()


def _lacks(method: TypingMethod, facts: TypingFacts) -> str | None:
    """What ``method`` lacks here (None: usable)."""
    if method is PORTAL:
        if facts.portal_keyboard:
            return None
        return (
            "the RemoteDesktop portal offers no keyboard (install xdg-desktop-portal-gnome or -kde)"
        )
    if method is WTYPE:
        return None if "wtype" in facts.tools else "not installed (apt install wtype)"
    if method is DOTOOL:
        if "dotool" not in facts.tools:
            return "not installed (see its home page, sr.ht/~geb/dotool)"
        return None if facts.uinput else _NO_UINPUT
    if method is YDOTOOL:
        if "ydotool" not in facts.tools:
            return "not installed (apt install ydotool)"
        return None if facts.ydotoold or facts.uinput else "ydotoold is not running; " + _NO_UINPUT
    if method is CLIPBOARD:
        if not facts.paste_allowed:
            return "not allowed in Settings (Dictation: paste when nothing can type)"
        if facts.desktops & NO_VIRTUAL_KEYBOARD:
            return "the paste key needs wtype, which cannot type on GNOME or KDE"
        need = {"wl-copy", "wl-paste", "wtype"} - facts.tools
        return (
            None
            if not need
            else f"needs {', '.join(sorted(need))} (apt install wl-clipboard wtype)"
        )
    return "not a Wayland route"


_NO_UINPUT = "/dev/uinput is not writable (add yourself to the input group)"
