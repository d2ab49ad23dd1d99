"""The desktop's own key binding for push-to-talk, written for each desktop (pure).

On Wayland no app sees global keys: the desktop runs ``kyutai-dictate start`` when the key
goes down and ``stop`` when it comes up (sway ``bindsym --release``, Hyprland ``bindr``), or
``toggle`` where a desktop's custom shortcuts have no release (GNOME, KDE). ``command`` is the
``kyutai-dictate`` program, already quoted for a shell.

Sources: sway(5) (``bindsym [--release|--no-repeat]``, ``for_window``, ``no_focus``);
Hyprland's wiki, Configuring/Binds (``bind = MODS, key, dispatcher, params``, the ``r`` flag)
and Window-Rules (``windowrulev2 = RULE, class:^(...)$, title:^(...)$``); GNOME's
org.gnome.settings-daemon.plugins.media-keys schema (``custom-keybindings``, and
``custom-keybinding`` with ``name``, ``command``, ``binding``); KDE's kglobalaccel, which
keeps a command shortcut as a desktop entry (``X-KDE-GlobalAccel-CommandShortcut``) and its
key in kglobalshortcutsrc, group ``[services][FILE]``, key ``_launch``.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from app.core.hotkey import MODIFIERS, Chord

APP_ID = "kyutai-dictate"  # the Wayland app_id (Qt's desktop file name)
OVERLAY_TITLE = "kyutai-dictate captions"
GNOME_PATH = "/org/gnome/settings-daemon/plugins/media-keys/custom-keybindings/kyutai-dictate/"
GNOME_SCHEMA = "org.gnome.settings-daemon.plugins.media-keys"
KDE_ENTRY = "net.local.kyutai-dictate-toggle.desktop"


class Desktop(StrEnum):
    """A desktop whose key bindings ``kyutai-dictate shortcut`` can write."""

    SWAY = "sway"
    HYPRLAND = "hyprland"
    GNOME = "gnome"
    KDE = "kde"


class ShortcutError(ValueError):
    """A hotkey the desktop's bindings cannot express."""


# pynput's names of keys whose XKB keysym name is not the name with a capital letter.
_KEYSYMS = {
    "page_up": "Prior",
    "page_down": "Next",
    "print_screen": "Print",
    "esc": "Escape",
    "enter": "Return",
    "backspace": "BackSpace",
    "num_lock": "Num_Lock",
    "caps_lock": "Caps_Lock",
    "scroll_lock": "Scroll_Lock",
    "space": "space",
}
_SWAY_MODS = {"ctrl": "Ctrl", "alt": "Mod1", "shift": "Shift", "cmd": "Mod4", "alt_gr": "Mod5"}
_HYPR_MODS = {"ctrl": "CTRL", "alt": "ALT", "shift": "SHIFT", "cmd": "SUPER", "alt_gr": "MOD5"}
_GNOME_MODS = {
    "ctrl": "<Control>",
    "alt": "<Alt>",
    "shift": "<Shift>",
    "cmd": "<Super>",
    "alt_gr": "<Mod5>",
}
_KDE_MODS = {"ctrl": "Ctrl", "alt": "Alt", "shift": "Shift", "cmd": "Meta", "alt_gr": "AltGr"}
_ORDER = ("cmd", "ctrl", "alt", "alt_gr", "shift")


def keysym(key: str) -> str:
    """The XKB keysym name of a pynput key name: ``f9`` -> ``F9``, ``d`` -> ``d``."""
    if len(key) == 1:
        return key
    if key in _KEYSYMS:
        return _KEYSYMS[key]
    if key.startswith("f") and key[1:].isdigit():
        return key.upper()
    if not key.replace("_", "").isalnum():
        raise ShortcutError(f"the key <{key}> has no name the desktop's bindings know")
    return "_".join(part.capitalize() for part in key.split("_"))


def _split(chord: Chord) -> tuple[list[str], str]:
    mods = [m for m in _ORDER if m in chord.keys]
    key = next(k for k in chord.keys if k not in MODIFIERS)
    return mods, keysym(key)


@dataclass(frozen=True)
class Binding:
    """What to write for a desktop: a config file's text, or settings to set."""

    desktop: Desktop
    text: str  # the file's text (sway, Hyprland, KDE's desktop entry) or the commands (GNOME)
    hold: bool  # the binding gives press and release (push-to-talk), not only a toggle


def sway_binding(chord: Chord, command: str, hold: bool, rules: str) -> Binding:
    """A sway config include: the bindings, then the overlay's window ``rules``."""
    mods, key = _split(chord)
    combo = "+".join([*(_SWAY_MODS[m] for m in mods), key])
    if hold:
        lines = [
            f"bindsym --no-repeat {combo} exec {command} start",
            f"bindsym --release {combo} exec {command} stop",
        ]
    else:
        lines = [f"bindsym --no-repeat {combo} exec {command} toggle"]
    header = "# kyutai-dictate: push-to-talk and the caption overlay (kyutai-dictate shortcut)"
    return Binding(Desktop.SWAY, "\n".join([header, *lines, "", rules.strip(), ""]), hold)


def hyprland_binding(chord: Chord, command: str, hold: bool, rules: str) -> Binding:
    """A Hyprland config snippet (``source = FILE`` in hyprland.conf): binds, window rules."""
    mods, key = _split(chord)
    mod_text = " ".join(_HYPR_MODS[m] for m in mods)
    if hold:
        lines = [
            f"bind = {mod_text}, {key}, exec, {command} start",
            f"bindr = {mod_text}, {key}, exec, {command} stop",
        ]
    else:
        lines = [f"bind = {mod_text}, {key}, exec, {command} toggle"]
    header = "# kyutai-dictate: push-to-talk and the caption overlay (kyutai-dictate shortcut)"
    return Binding(Desktop.HYPRLAND, "\n".join([header, *lines, "", rules.strip(), ""]), hold)


def gnome_accelerator(chord: Chord) -> str:
    """GTK's accelerator syntax: ``<Control><Alt>d``."""
    mods, key = _split(chord)
    return "".join(_GNOME_MODS[m] for m in mods) + key


def gnome_commands(chord: Chord, command: str, existing: list[str]) -> list[list[str]]:
    """The ``gsettings`` runs that add a custom shortcut running ``command toggle``.

    ``existing`` is the current ``custom-keybindings`` list; ours is added once."""
    paths = existing if GNOME_PATH in existing else [*existing, GNOME_PATH]
    listing = "[" + ", ".join(f"'{p}'" for p in paths) + "]"
    item = f"{GNOME_SCHEMA}.custom-keybinding:{GNOME_PATH}"
    return [
        ["gsettings", "set", GNOME_SCHEMA, "custom-keybindings", listing],
        ["gsettings", "set", item, "name", "kyutai-dictate"],
        ["gsettings", "set", item, "command", f"{command} toggle"],
        ["gsettings", "set", item, "binding", gnome_accelerator(chord)],
    ]


def parse_gvariant_strings(text: str) -> list[str]:
    """``gsettings get``'s print of a string array: ``@as []`` or ``['/a/', '/b/']``."""
    body = text.strip().removeprefix("@as").strip()
    if not (body.startswith("[") and body.endswith("]")):
        raise ShortcutError(f"not a list of strings: {text.strip()[:80]!r}")
    inner = body[1:-1].strip()
    if not inner:
        return []
    items = [item.strip() for item in inner.split(",")]
    if not all(len(i) >= 2 and i[0] == i[-1] and i[0] in "'\"" for i in items):
        raise ShortcutError(f"not a list of strings: {text.strip()[:80]!r}")
    return [item[1:-1] for item in items]


def kde_shortcut(chord: Chord) -> str:
    """Qt's key sequence text as kglobalaccel stores it: ``Ctrl+Alt+D``, ``F9``."""
    mods, key = _split(chord)
    return "+".join([*(_KDE_MODS[m] for m in mods), key.upper() if len(key) == 1 else key])


def kde_desktop_entry(command: str) -> str:
    """The desktop entry kglobalaccel launches for the shortcut (toggle only)."""
    return (
        "[Desktop Entry]\nType=Application\nName=kyutai-dictate: start or stop dictating\n"
        f"Exec={command} toggle\nNoDisplay=true\nX-KDE-GlobalAccel-CommandShortcut=true\n"
    )
