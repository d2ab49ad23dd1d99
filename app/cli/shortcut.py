"""``kyutai-dictate shortcut``: print, or with ``--install`` write, the desktop's key binding
for push-to-talk and the overlay's window rules (the text comes from :mod:`app.core.shortcuts`).

- sway: ``$XDG_CONFIG_HOME/sway/config.d/kyutai-dictate.conf``, included from sway's config
  (the line is added when missing), then ``swaymsg reload``;
- Hyprland: ``$XDG_CONFIG_HOME/hypr/kyutai-dictate.conf``, sourced from hyprland.conf, then
  ``hyprctl reload``;
- GNOME: a custom shortcut through ``gsettings`` (toggle: it has no release);
- KDE: a command shortcut (desktop entry plus kglobalshortcutsrc, toggle).
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

from app.core.desktop_session import wayland_desktop
from app.core.errors import UsageError
from app.core.hotkey import Chord, ChordError, parse_chord
from app.core.settings import HotkeyMode
from app.core.shortcuts import (
    GNOME_SCHEMA,
    KDE_ENTRY,
    Binding,
    Desktop,
    ShortcutError,
    gnome_commands,
    hyprland_binding,
    kde_desktop_entry,
    kde_shortcut,
    parse_gvariant_strings,
    sway_binding,
)
from app.desktop import settings_store
from app.desktop.compositor_config import config_paths, includes

_HERE = Path(__file__).resolve()
# A checkout has resources/ at the top; an installed wheel carries it inside the package.
RESOURCES = next(
    (p for p in (_HERE.parents[2] / "resources", _HERE.parents[1] / "resources") if p.is_dir()),
    _HERE.parents[2] / "resources",
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--desktop",
        choices=[d.value for d in Desktop],
        help="write it for this desktop (default: the one running)",
    )
    parser.add_argument(
        "--install", action="store_true", help="write it into the desktop's configuration"
    )
    parser.add_argument(
        "--config", type=Path, help="settings file with the hotkey (default: the user's)"
    )


def run(args: argparse.Namespace) -> int:
    env = dict(os.environ)
    desktop = Desktop(args.desktop) if args.desktop else wayland_desktop(env)
    if desktop is None:
        raise UsageError(
            "no desktop with key bindings found (sway, Hyprland, GNOME or KDE): choose one "
            "with --desktop; on X11 the app's own hotkey works without one"
        )
    settings = settings_store.load(args.config).dictation
    try:
        chord = parse_chord(settings.hotkey)
    except ChordError as exc:
        raise UsageError(f"hotkey: {exc}") from None
    hold = settings.mode is HotkeyMode.HOLD
    command = program(env)
    try:
        if desktop is Desktop.SWAY:
            binding = sway_binding(chord, command, hold, _rules("sway.conf"))
            return _config_file(binding, *config_paths(desktop, env), args.install, env)
        if desktop is Desktop.HYPRLAND:
            binding = hyprland_binding(chord, command, hold, _rules("hyprland.conf"))
            return _config_file(binding, *config_paths(desktop, env), args.install, env)
        if desktop is Desktop.GNOME:
            return _gnome(chord, settings.hotkey, command, args.install)
        return _kde(chord, command, args.install, env)
    except ShortcutError as exc:
        raise UsageError(str(exc)) from None


def program(env: Mapping[str, str]) -> str:
    """``kyutai-dictate`` as a desktop's binding runs it: its full path, quoted for a shell."""
    found = shutil.which("kyutai-dictate", path=env.get("PATH"))
    if found:
        return shlex.quote(found)
    return f"{shlex.quote(sys.executable)} -m app"


def _rules(name: str) -> str:
    return (RESOURCES / "wayland" / name).read_text(encoding="utf-8")


def _config_file(
    binding: Binding,
    target: Path,
    main: Path,
    include_line: str,
    reload: list[str],
    install: bool,
    env: Mapping[str, str],
) -> int:
    name = binding.desktop.value
    if not install:
        print(f"# {target} (kyutai-dictate shortcut --install writes it),")
        print(f"# with `{include_line}` in {main}:")
        print(binding.text, end="")
        return 0
    if not main.exists():
        raise UsageError(
            f"{main} does not exist: {name} reads its system-wide config then; copy that "
            f"to {main} first (for sway: cp /etc/sway/config {main}), then run this again"
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(binding.text, encoding="utf-8")
    print(f"wrote {target}")
    config = main.read_text(encoding="utf-8")
    if not includes(config, target, env):
        with main.open("a", encoding="utf-8") as out:
            out.write(("" if config.endswith("\n") or not config else "\n") + include_line + "\n")
        print(f"added `{include_line}` to {main}")
    if shutil.which(reload[0], path=env.get("PATH")) and _running(binding.desktop, env):
        done = subprocess.run(reload, env=dict(env), capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise UsageError(f"{shlex.join(reload)} failed: {(done.stderr or done.stdout).strip()}")
        print(f"reloaded {name} ({shlex.join(reload)})")
    else:
        print(f"reload {name} to use it ({shlex.join(reload)})")
    if not binding.hold:
        print("the key toggles dictation (settings: mode toggle)")
    return 0


def _running(desktop: Desktop, env: Mapping[str, str]) -> bool:
    variable = "SWAYSOCK" if desktop is Desktop.SWAY else "HYPRLAND_INSTANCE_SIGNATURE"
    return bool(env.get(variable))


def _gnome(chord: Chord, chord_text: str, command: str, install: bool) -> int:
    note = "# GNOME's custom shortcuts have no release: the key toggles dictation."
    if not install:
        print(note)
        print("# (the first command keeps your other custom shortcuts: add theirs to the list)")
        for argv in gnome_commands(chord, command, []):
            print(shlex.join(argv))
        return 0
    current = _check_output(["gsettings", "get", GNOME_SCHEMA, "custom-keybindings"])
    for argv in gnome_commands(chord, command, parse_gvariant_strings(current)):
        _check_output(argv)
    print(f"added a GNOME custom shortcut: {chord_text} toggles dictation")
    return 0


def _kde(chord: Chord, command: str, install: bool, env: Mapping[str, str]) -> int:
    data = env.get("XDG_DATA_HOME") or Path(env.get("HOME", "~")).expanduser() / ".local/share"
    entry = Path(data) / "applications"
    entry /= KDE_ENTRY
    tool = next(
        (t for t in ("kwriteconfig6", "kwriteconfig5") if shutil.which(t, path=env.get("PATH"))),
        "kwriteconfig6",
    )
    write_key = [tool, "--file", "kglobalshortcutsrc", "--group", "services", "--group"]
    write_key += [KDE_ENTRY, "--key", "_launch", kde_shortcut(chord)]
    if not install:
        print("# KDE's command shortcuts have no release: the key toggles dictation.")
        print(f"# {entry}:")
        print(kde_desktop_entry(command), end="")
        print("# then:")
        print(shlex.join(write_key))
        return 0
    entry.parent.mkdir(parents=True, exist_ok=True)
    entry.write_text(kde_desktop_entry(command), encoding="utf-8")
    _check_output(write_key)
    print(f"wrote {entry} and its key; sign out and in (or restart kglobalaccel) to use it")
    return 0


def _check_output(argv: list[str]) -> str:
    try:
        done = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=30)
    except OSError as exc:
        raise UsageError(f"{argv[0]} could not run: {exc.strerror}") from None
    if done.returncode != 0:
        raise UsageError(f"{shlex.join(argv)} failed: {(done.stderr or done.stdout).strip()}")
    return done.stdout
