"""Which kind of desktop session the app runs in (pure: reads the environment it is given)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

from app.core.shortcuts import Desktop


def session_kind(env: Mapping[str, str]) -> Literal["x11", "wayland"] | None:
    """The kind of desktop session ``env`` belongs to; None without a display.

    XDG_SESSION_TYPE decides when it is set; otherwise a WAYLAND_DISPLAY wins over a DISPLAY,
    which in a Wayland session only reaches XWayland windows.
    """
    session = env.get("XDG_SESSION_TYPE", "").lower()
    if session == "wayland":
        return "wayland"
    if session == "x11" and env.get("DISPLAY"):
        return "x11"
    if env.get("WAYLAND_DISPLAY"):
        return "wayland"
    if env.get("DISPLAY"):
        return "x11"
    return None


def missing_display(env: Mapping[str, str], platform: str) -> str | None:
    """Why the desktop app cannot start in ``env`` on ``platform`` (``sys.platform``), or None.

    On Linux and the BSDs Qt needs an X11 or Wayland display; without one it aborts with a
    page about platform plugins. An explicit ``QT_QPA_PLATFORM`` is the user's choice.
    """
    if platform in ("win32", "darwin") or env.get("QT_QPA_PLATFORM"):
        return None
    if env.get("DISPLAY") or env.get("WAYLAND_DISPLAY"):
        return None
    return (
        "no graphical session (neither DISPLAY nor WAYLAND_DISPLAY is set): start the app "
        "from your desktop; without a screen, 'kyutai-dictate transcribe' prints what you say"
    )


def wayland_desktop(env: Mapping[str, str]) -> Desktop | None:
    """The desktop whose key bindings and window rules apply in ``env``, if one is known.

    sway and Hyprland say so by their IPC variables (set for every client they start);
    otherwise ``XDG_CURRENT_DESKTOP`` (a colon-separated list, e.g. ``ubuntu:GNOME``)."""
    if env.get("SWAYSOCK"):
        return Desktop.SWAY
    if env.get("HYPRLAND_INSTANCE_SIGNATURE"):
        return Desktop.HYPRLAND
    names = {name.lower() for name in env.get("XDG_CURRENT_DESKTOP", "").split(":")}
    for desktop in (Desktop.SWAY, Desktop.HYPRLAND, Desktop.GNOME, Desktop.KDE):
        if desktop.value in names:
            return desktop
    return None


def focus_guard_unavailable(env: Mapping[str, str], platform: str) -> str | None:
    """Why the focus guard cannot work here (the settings show it), or None where it can."""
    if platform == "win32":
        return None
    if platform == "darwin":
        return "the focus guard is off on macOS: this app cannot read the focused window there yet"
    kind = session_kind(env)
    if kind == "x11" or wayland_desktop(env) in (Desktop.SWAY, Desktop.HYPRLAND):
        return None
    if kind == "wayland":
        return (
            "the focus guard is off on this Wayland desktop: it does not tell apps the focused "
            "window (sway and Hyprland do), so typing goes wherever the focus is"
        )
    return "the focus guard needs a desktop session (X11, sway or Hyprland)"
