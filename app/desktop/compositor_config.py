"""Where sway's and Hyprland's user configs live, and whether they include our bindings.

``kyutai-dictate shortcut --install`` writes the bindings there; the app and ``doctor`` read
whether they are in place.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Mapping
from pathlib import Path

from app.core.shortcuts import Desktop


def config_home(env: Mapping[str, str]) -> Path:
    """``$XDG_CONFIG_HOME``, or ``~/.config``."""
    return Path(env.get("XDG_CONFIG_HOME") or Path(env.get("HOME", "~")).expanduser() / ".config")


def config_paths(desktop: Desktop, env: Mapping[str, str]) -> tuple[Path, Path, str, list[str]]:
    """sway's or Hyprland's: the file we write, the main config that must include it, the
    line that includes it, and the command that reloads the config."""
    if desktop is Desktop.SWAY:
        home = config_home(env) / "sway"
        target = home / "config.d" / "kyutai-dictate.conf"
        return target, home / "config", f"include {target}", ["swaymsg", "reload"]
    home = config_home(env) / "hypr"
    target = home / "kyutai-dictate.conf"
    return target, home / "hyprland.conf", f"source = {target}", ["hyprctl", "reload"]


def installed(desktop: Desktop, env: Mapping[str, str]) -> bool:
    """Whether sway's or Hyprland's config has our bindings (written and included)."""
    target, main = config_paths(desktop, env)[:2]
    if not (target.is_file() and main.is_file()):
        return False
    return includes(main.read_text(encoding="utf-8", errors="replace"), target, env)


def includes(config: str, target: Path, env: Mapping[str, str]) -> bool:
    """Whether a sway or Hyprland config already includes (or sources) ``target``."""
    for line in config.splitlines():
        words = line.replace("=", " ").split(maxsplit=1)
        if len(words) == 2 and words[0] in ("include", "source"):
            pattern = _expand(words[1].strip().strip("'\""), env)
            if fnmatch.fnmatch(str(target), pattern) or pattern == str(target):
                return True
    return False


def _expand(path: str, env: Mapping[str, str]) -> str:
    """``~``, ``$VAR`` and ``${VAR}`` of a config's path, with ``env``'s values."""
    home = env.get("HOME", "~")
    path = home + path[1:] if path == "~" or path.startswith("~/") else path
    return re.sub(r"\$\{(\w+)\}|\$(\w+)", lambda m: env.get(m[1] or m[2], m[0]), path)
