"""The focus guard's probe on sway: the focused window, read over sway's IPC."""

from __future__ import annotations

from pathlib import Path

from app.desktop.focus import open_focus_probe
from tests.support.sway import WaylandDesktop
from tests.support.target_window import focused_target


def test_the_sway_probe_tells_the_focused_window(sway: WaylandDesktop, tmp_path: Path) -> None:
    probe = open_focus_probe(sway.env)
    assert probe is not None, "no focus probe on sway: the guard would be off"
    try:
        assert probe.focused_window() is None  # an empty workspace
        with focused_target(sway.env, tmp_path / "first.txt"):
            first = probe.focused_window()
            with focused_target(sway.env, tmp_path / "second.txt"):
                second = probe.focused_window()
                assert second is not None
                assert first is not None
                assert second != first
                sway.swaymsg(f"[con_id={first}]", "focus")
                assert probe.focused_window() == first
    finally:
        probe.close()
