"""The desktop's keyboard layout, from what GNOME and KDE store (pure: parses text the edge
read). Key-code typing routes (ydotool, dotool) type right only on the layout they assume;
knowing the desktop's lets the app hold text instead of typing it wrong."""

from __future__ import annotations

import re
from collections.abc import Mapping


def gnome_layout(sources: str) -> str:
    """The first XKB layout of ``gsettings get org.gnome.desktop.input-sources sources``
    (``[('xkb', 'de+nodeadkeys'), ('xkb', 'us')]`` -> ``de``); "" if none."""
    match = re.search(r"\(\s*'xkb'\s*,\s*'([^'+]+)", sources)
    return match.group(1) if match else ""


def kde_layout(kxkbrc: str) -> str:
    """The first layout of KDE's ``kxkbrc`` when KDE sets the layouts (``Use=true``)."""
    values: dict[str, str] = {}
    section = ""
    for raw in kxkbrc.splitlines():
        line = raw.strip()
        if line.startswith("["):
            section = line
        elif section == "[Layout]" and "=" in line:
            key, _, value = line.partition("=")
            values[key.strip()] = value.strip()
    if values.get("Use", "").lower() != "true":
        return ""
    return values.get("LayoutList", "").split(",")[0].strip()


def pick_layout(env: Mapping[str, str], desktop_setting: str) -> str:
    """XKB_DEFAULT_LAYOUT (set by the user or the compositor's session) wins; then the
    desktop's own setting; "" when neither says."""
    return env.get("XKB_DEFAULT_LAYOUT", "").split(",")[0].strip() or desktop_setting
