"""Start at login from an installed bundle runs the launcher on PATH (``/usr/bin/kyutai-dictate``),
not the bundle's inner executable, when that launcher leads to this bundle."""

from __future__ import annotations

from pathlib import Path

from app.desktop.autostart import launch_command


def test_a_bundle_started_through_its_launcher_autostarts_the_launcher(tmp_path: Path) -> None:
    inner = tmp_path / "usr" / "lib" / "kyutai-dictate" / "kyutai-dictate"
    inner.parent.mkdir(parents=True)
    inner.write_text("")
    launcher = tmp_path / "usr" / "bin" / "kyutai-dictate"
    launcher.parent.mkdir(parents=True)
    launcher.symlink_to("../lib/kyutai-dictate/kyutai-dictate")
    assert launch_command(str(inner), frozen=True, which=lambda _: str(launcher)) == [str(launcher)]


def test_a_launcher_leading_elsewhere_is_not_used(tmp_path: Path) -> None:
    inner = tmp_path / "bundle" / "kyutai-dictate"
    inner.parent.mkdir()
    inner.write_text("")
    other = tmp_path / "other"
    other.write_text("")
    assert launch_command(str(inner), frozen=True, which=lambda _: str(other)) == [str(inner)]
    assert launch_command(str(inner), frozen=True, which=lambda _: None) == [str(inner)]
