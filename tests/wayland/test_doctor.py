"""``kyutai-dictate doctor``: what this desktop gives the app, what is missing, and a typing
self-test into a window of its own."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.support.desktop import ROOT, app_command, desktop
from tests.support.sway import WaylandDesktop
from tests.wayland.test_sway_dictation import install_shortcut


def doctor(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        app_command("doctor"), cwd=ROOT, env=env, capture_output=True, text=True, timeout=60,
        check=False,
    )  # fmt: skip


def test_on_sway_doctor_reports_the_routes_and_types_exactly(sway: WaylandDesktop) -> None:
    install_shortcut(sway)
    done = doctor(sway.env)
    report = done.stdout
    assert "session: wayland (sway)" in report, report + done.stderr
    assert "typing: wtype (auto)" in report
    assert "hotkey: sway key bindings, installed" in report
    assert "tray: a StatusNotifierItem host is running" in report
    assert "focus guard: sway IPC" in report
    assert "self-test: typed exactly" in report
    assert done.returncode == 0, report + done.stderr


def test_doctor_says_what_is_missing_and_how_to_fix_it(
    sway: WaylandDesktop, tmp_path: Path
) -> None:
    bin_dir = tmp_path / "bin"  # a PATH without wtype (nor ydotool)
    bin_dir.mkdir()
    path = ":".join(p for p in os.environ["PATH"].split(":") if not Path(p, "wtype").exists())
    env = {**sway.env, "PATH": f"{bin_dir}:{path}", "XDG_CONFIG_HOME": str(tmp_path / "cfg")}
    done = doctor(env)
    report = done.stdout
    assert done.returncode == 1, report + done.stderr
    assert "typing: none" in report
    assert "apt install wtype" in report
    assert "hotkey: sway key bindings, not installed" in report
    assert "kyutai-dictate shortcut --install" in report
    assert "self-test: skipped" in report


def test_without_a_desktop_doctor_still_reports(tmp_path: Path) -> None:
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        "PYTHONPATH": str(ROOT),
        "LANG": "C.UTF-8",
        "XDG_RUNTIME_DIR": str(tmp_path),
    }
    done = subprocess.run(
        [sys.executable, "-m", "app", "doctor"], cwd=ROOT, env=env, capture_output=True,
        text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 1
    assert "session: none" in done.stdout
    assert "DISPLAY nor WAYLAND_DISPLAY" in done.stdout


def test_on_x11_doctor_reports_the_apps_own_hotkey_and_types_exactly(tmp_path: Path) -> None:
    with desktop(tmp_path / "home", 76) as d:
        done = doctor(d.env)
    report = done.stdout
    assert "session: x11" in report, report + done.stderr
    assert "typing: xtest (auto)" in report
    assert "hotkey: the app's own, <f9> (pynput)" in report
    assert "tray: available" in report
    assert "focus guard: on (X11)" in report
    assert "self-test: typed exactly" in report
    assert done.returncode == 0, report + done.stderr
