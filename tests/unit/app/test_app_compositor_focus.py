"""The focus guard's probe on Hyprland (``hyprctl activewindow -j``, through a stand-in) and
where no probe exists (GNOME and KDE on Wayland): the settings say why the guard is off."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from app.core.desktop_session import focus_guard_unavailable
from app.desktop.focus import open_focus_probe

# Written from hyprwm/Hyprland v0.54.0, src/debug/HyprCtl.cpp: ``activeWindowRequest`` prints
# "{}" (JSON) when no window is focused, else ``getWindowData``'s object, whose "address" is
# "0x{:x}"; hyprctl/src/main.cpp takes ``-j`` for JSON. It refuses any other request, and
# fails as hyprctl does without a running Hyprland (HYPRLAND_INSTANCE_SIGNATURE unset).
HYPRCTL = """#!/bin/sh
[ -n "$HYPRLAND_INSTANCE_SIGNATURE" ] ||
  { echo "HYPRLAND_INSTANCE_SIGNATURE was not set! (Is Hyprland running?)" >&2; exit 1; }
[ "$1 $2" = "activewindow -j" ] || [ "$1 $2" = "-j activewindow" ] ||
  { echo "unknown request" >&2; exit 1; }
cat "$ACTIVE_FILE"
"""


def hyprland(tmp_path: Path, active: object) -> dict[str, str]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    (bin_dir / "hyprctl").write_text(HYPRCTL)
    (bin_dir / "hyprctl").chmod(0o755)
    active_file = tmp_path / "active.json"
    active_file.write_text(json.dumps(active))
    return {
        "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
        "WAYLAND_DISPLAY": "wayland-1",
        "HYPRLAND_INSTANCE_SIGNATURE": "v0.54.0_1700000000_1234",
        "ACTIVE_FILE": str(active_file),
    }


def test_the_hyprland_probe_reads_the_active_windows_address(tmp_path: Path) -> None:
    env = hyprland(tmp_path, {"address": "0x55d2c1a0", "mapped": True, "class": "kitty"})
    probe = open_focus_probe(env, "linux")
    assert probe is not None
    assert probe.focused_window() == 0x55D2C1A0
    (tmp_path / "active.json").write_text("{}")
    assert probe.focused_window() is None
    probe.close()


def test_a_failing_hyprctl_means_unknown_focus(tmp_path: Path) -> None:
    env = hyprland(tmp_path, {})
    probe = open_focus_probe({**env, "HYPRLAND_INSTANCE_SIGNATURE": "x"}, "linux")
    assert probe is not None
    (tmp_path / "bin" / "hyprctl").write_text("#!/bin/sh\nexit 1\n")
    assert probe.focused_window() is None


@pytest.mark.parametrize("desktop", ["GNOME", "KDE"])
def test_gnome_and_kde_on_wayland_have_no_probe_and_say_why(desktop: str) -> None:
    env = {"WAYLAND_DISPLAY": "wayland-0", "XDG_CURRENT_DESKTOP": desktop}
    assert open_focus_probe(env, "linux") is None
    reason = focus_guard_unavailable(env, "linux")
    assert reason is not None
    assert "focused window" in reason


def test_where_a_probe_exists_nothing_is_said() -> None:
    assert focus_guard_unavailable({"DISPLAY": ":0"}, "linux") is None
    assert focus_guard_unavailable({"WAYLAND_DISPLAY": "w", "SWAYSOCK": "/s"}, "linux") is None
    assert focus_guard_unavailable({}, "win32") is None
    assert focus_guard_unavailable({}, "darwin") is not None
