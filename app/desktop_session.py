"""Which kind of desktop session the app runs in (pure: reads the environment it is given)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal


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
