"""A stand-in for Hyprland's config parser, for the lines ``kyutai-dictate shortcut`` writes
(Hyprland is not in Debian 12, so it cannot run here).

Written from hyprwm/Hyprland v0.54.0: ``src/config/ConfigManager.cpp``
(``CConfigManager::handleBind``: the flags after ``bind``, ``e`` exclusive with ``r``, 3 or 4
comma-separated arguments of which the last keeps its commas, the dispatcher must exist, a
non-empty modifier list must name a modifier; ``handleWindowrule``: comma-separated fields,
each ``match:PROP VALUE`` or ``EFFECT VALUE``, anything else refused; ``windowrulev2`` is
refused as deprecated), ``src/managers/KeybindManager.cpp`` (``stringToModMask``), and
``src/desktop/rule/Rule.cpp`` / ``windowRule/WindowRuleEffectContainer.cpp`` (the names of
match properties and effects, a subset here). Keys are resolved as Hyprland does, with
libxkbcommon's ``xkb_keysym_from_name`` (case-insensitive).

It cannot show that Hyprland delivers the key's release to ``bindr`` while another client
types, or that its focus rules keep the overlay out of the focus: that needs Hyprland itself.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import re

BIND_FLAGS = set("lremntisodpcgu")
DISPATCHERS = {"exec", "execr", "pass", "sendshortcut", "killactive", "togglefloating"}
MODIFIER_WORDS = (
    "SHIFT",
    "CAPS",
    "CTRL",
    "CONTROL",
    "ALT",
    "MOD1",
    "MOD2",
    "MOD3",
    "SUPER",
    "WIN",
    "LOGO",
    "MOD4",
    "META",
    "MOD5",
)
MATCH_PROPS = {"class", "title", "initial_class", "initial_title", "tag", "xwayland", "float"}
EFFECTS = {
    "float",
    "tile",
    "move",
    "size",
    "center",
    "pin",
    "no_initial_focus",
    "no_focus",
    "workspace",
    "monitor",
    "opacity",
    "stay_focused",
    "border_size",
    "no_shadow",
}


class HyprlandConfigError(ValueError):
    """A line Hyprland would refuse, with its error text."""


def _keysym(name: str) -> int:
    library = ctypes.CDLL(ctypes.util.find_library("xkbcommon") or "libxkbcommon.so.0")
    library.xkb_keysym_from_name.restype = ctypes.c_uint32
    return int(library.xkb_keysym_from_name(name.encode(), 1))  # XKB_KEYSYM_CASE_INSENSITIVE


def _split(value: str, limit: int = 0) -> list[str]:
    """Hyprutils' CVarList: split on commas (the last of ``limit`` fields keeps the rest),
    each field trimmed."""
    parts = value.split(",", limit - 1) if limit else value.split(",")
    return [part.strip() for part in parts]


def check_bind(keyword: str, value: str) -> tuple[str, str, str, str]:
    """(flags, mods, key, command) of a ``bind*`` line; HyprlandConfigError if refused."""
    flags = keyword[4:]
    if any(flag not in BIND_FLAGS for flag in flags):
        raise HyprlandConfigError("bind: invalid flag")
    if "e" in flags and ("r" in flags or "o" in flags):
        raise HyprlandConfigError("flags e is mutually exclusive with r and o")
    args = _split(value, 4)
    if len(args) < 3:
        raise HyprlandConfigError("bind: too few args")
    mods, key, dispatcher = args[0], args[1], args[2].lower()
    command = args[3] if len(args) > 3 else ""
    if dispatcher not in DISPATCHERS:
        raise HyprlandConfigError(f'Invalid dispatcher, requested "{dispatcher}" does not exist')
    if mods and not any(word in mods.upper() for word in MODIFIER_WORDS):
        raise HyprlandConfigError(f'Invalid mod, requested mod "{mods}" is not a valid mod.')
    if not key:
        raise HyprlandConfigError("a bind without a key does nothing")
    if not key.startswith("code:") and _keysym(key) == 0:
        raise HyprlandConfigError(f"unknown key {key!r}")
    return flags, mods, key, command


def check_windowrule(value: str) -> dict[str, str]:
    """The fields of a ``windowrule`` line; HyprlandConfigError if refused."""
    fields: dict[str, str] = {}
    for field in _split(value):
        name, space, rest = field.partition(" ")
        if not space:
            raise HyprlandConfigError(f"invalid field {field}: missing a value")
        prop = name.removeprefix("match:")
        if name.startswith("match:") and prop in MATCH_PROPS:
            re.compile(rest)  # Hyprland compiles it with RE2
        elif name.startswith("match:") or name not in EFFECTS:
            raise HyprlandConfigError(f"invalid field type {prop}")
        fields[name] = rest.strip()
    return fields


def check_config(text: str) -> list[tuple[str, str]]:
    """Every ``keyword = value`` line of ``text`` checked; the (keyword, value) pairs."""
    lines = []
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        keyword, equals, value = line.partition("=")
        keyword, value = keyword.strip(), value.strip()
        if not equals:
            raise HyprlandConfigError(f"config error: invalid line {line!r}")
        if keyword.startswith("bind"):
            check_bind(keyword, value)
        elif keyword == "windowrule":
            check_windowrule(value)
        elif keyword == "windowrulev2":
            raise HyprlandConfigError("windowrulev2 is deprecated.")
        elif keyword != "source":
            raise HyprlandConfigError(f"config option <{keyword}> does not exist.")
        lines.append((keyword, value))
    return lines
