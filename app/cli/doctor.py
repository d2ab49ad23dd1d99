"""``kyutai-dictate doctor``: the session and desktop, the typing and hotkey routes chosen, the
tray and the focus guard, what is missing and how to fix it, and a typing self-test into a
window of its own. Exit status 1 when something needs fixing."""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from app.core.desktop_session import focus_guard_unavailable, session_kind, wayland_desktop
from app.core.settings import TypingMethod
from app.core.shortcuts import Desktop
from app.desktop import compositor_config, settings_store
from app.desktop.typists.base import TypingError
from app.desktop.typists.choose import resolve_method

NO_TRAY = (
    "reach the app with `kyutai-dictate show` (captions; settings on first run), `toggle`, "
    "`start`/`stop` and `quit`; for an icon, run a tray: swaybar (`tray_output *`), waybar's "
    "tray module, or GNOME's AppIndicator extension"
)


@dataclass(frozen=True)
class Finding:
    topic: str
    text: str
    fix: str | None = None  # set when something needs fixing


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", type=Path, help="settings file (default: the user's)")
    parser.add_argument(
        "--no-self-test", action="store_true", help="do not open a window to type into"
    )


def run(args: argparse.Namespace) -> int:
    env = dict(os.environ)
    settings = settings_store.load(args.config).dictation
    findings = [_session(env)]
    method: TypingMethod | None = None
    try:
        method = resolve_method(settings.typing, sys.platform, env, _which(env))
        how = "auto" if settings.typing is TypingMethod.AUTO else "chosen in the settings"
        findings.append(Finding("typing", f"{method.value} ({how})"))
    except TypingError as exc:
        findings.append(Finding("typing", "none", str(exc)))
    findings.append(_hotkey(env, settings.hotkey))
    displayed = sys.platform in ("win32", "darwin") or session_kind(env) is not None
    if displayed:
        findings.append(_tray(env))
    reason = focus_guard_unavailable(env, sys.platform)
    findings.append(Finding("focus guard", reason or _probe_name(env)))
    if args.no_self_test:
        findings.append(Finding("self-test", "not run (--no-self-test)"))
    elif method is None or not displayed:
        findings.append(Finding("self-test", "skipped (no way to type here)"))
    else:
        findings.append(_self_test(method, env))
    for finding in findings:
        print(f"{finding.topic}: {finding.text}")
        if finding.fix:
            print(f"  fix: {finding.fix}")
    return 1 if any(f.fix for f in findings) else 0


def _which(env: Mapping[str, str]) -> Callable[[str], str | None]:
    return lambda program: shutil.which(program, path=env.get("PATH"))


def _session(env: Mapping[str, str]) -> Finding:
    if sys.platform == "win32":
        return Finding("session", "Windows")
    if sys.platform == "darwin":
        return Finding("session", "macOS")
    kind = session_kind(env)
    if kind is None:
        return Finding(
            "session",
            "none",
            "neither DISPLAY nor WAYLAND_DISPLAY is set: run this in your desktop session",
        )
    desktop = wayland_desktop(env)
    name = desktop.value if desktop else env.get("XDG_CURRENT_DESKTOP") or "desktop unknown"
    return Finding("session", f"{kind} ({name})")


def _hotkey(env: Mapping[str, str], hotkey: str) -> Finding:
    kind = session_kind(env)
    if sys.platform in ("win32", "darwin") or kind == "x11":
        return Finding("hotkey", f"the app's own, {hotkey} (pynput)")
    if kind is None:
        return Finding("hotkey", "none (no desktop session)")
    desktop = wayland_desktop(env)
    install = "run `kyutai-dictate shortcut --install`"
    if desktop in (Desktop.SWAY, Desktop.HYPRLAND):
        assert desktop is not None
        target = compositor_config.config_paths(desktop, env)[0]
        name = "sway key bindings" if desktop is Desktop.SWAY else "Hyprland binds"
        if compositor_config.installed(desktop, env):
            return Finding("hotkey", f"{name}, installed ({target})")
        return Finding("hotkey", f"{name}, not installed", f"{install} (it includes {target})")
    if desktop in (Desktop.GNOME, Desktop.KDE):
        return Finding(
            "hotkey",
            "a desktop shortcut (custom shortcuts toggle: they have no release)",
            None,
        )
    return Finding(
        "hotkey",
        "none: Wayland lets no app see global keys",
        "bind a key in your compositor to `kyutai-dictate toggle` (or start/stop on press/release)",
    )


def _tray(env: Mapping[str, str]) -> Finding:
    from app.ui.self_test import tray_host_running

    if not tray_host_running():
        return Finding("tray", "none", NO_TRAY)
    if session_kind(env) == "wayland":
        return Finding("tray", "a StatusNotifierItem host is running")
    return Finding("tray", "available")


def _probe_name(env: Mapping[str, str]) -> str:
    if sys.platform == "win32":
        return "on (Windows)"
    desktop = wayland_desktop(env)
    if session_kind(env) == "wayland" and desktop is Desktop.SWAY:
        return "sway IPC"
    if session_kind(env) == "wayland" and desktop is Desktop.HYPRLAND:
        return "hyprctl activewindow"
    return "on (X11)"


def _self_test(method: TypingMethod, env: Mapping[str, str]) -> Finding:
    from app.desktop.typists.choose import open_typist
    from app.ui.self_test import SAMPLE, run_self_test

    try:
        typist = open_typist(method, env)
    except TypingError as exc:
        return Finding("self-test", "could not start typing", str(exc))
    try:
        result = run_self_test(typist)
    finally:
        typist.close()
    if result.exact:
        return Finding("self-test", f"typed exactly: {SAMPLE}")
    if result.error:
        return Finding("self-test", "failed", result.error)
    return Finding(
        "self-test",
        f"typed {result.typed!r}, not {SAMPLE!r}",
        "choose another typing method in the settings (Dictation, Typing)",
    )
