"""``kyutai-dictate --version`` and the tray's About entry: version, licence and backend."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from app.cli.main import main
from app.core.about import about_text
from app.core.settings import BackendKind, BackendSettings
from app.desktop.version import LICENCE, version

ROOT = Path(__file__).resolve().parents[3]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def test_the_version_is_the_projects() -> None:
    assert version() == PYPROJECT["version"]
    assert PYPROJECT["license"] == LICENCE


def test_the_version_falls_back_to_pyproject_in_a_clone(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\nversion = "9.8.7"\n')
    assert version(distribution="no-such-distribution-here", clone=tmp_path) == "9.8.7"
    assert version(distribution="no-such-distribution-here", clone=tmp_path / "none") == "unknown"


def test_dash_dash_version_prints_it(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"kyutai-dictate {PYPROJECT['version']}"


def test_dash_dash_version_from_the_command_line() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "app", "--version"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert done.stdout.strip() == f"kyutai-dictate {PYPROJECT['version']}"


def test_about_names_version_licence_and_backend() -> None:
    backend = BackendSettings(kind=BackendKind.PROXY, url="wss://stt.example/v1/stream")
    text = about_text("1.2.3", "MIT", backend)
    assert "1.2.3" in text
    assert "MIT" in text
    assert "proxy at wss://stt.example/v1/stream" in text
    assert "not configured" in about_text("1.2.3", "MIT", BackendSettings())


def test_the_licence_file_is_mit() -> None:
    text = (ROOT / "LICENSE").read_text()
    assert text.startswith("MIT License")
    assert "the kyutai-dictate authors" in text


TRAY_CHILD = """
from PySide6.QtWidgets import QApplication
from app.ui.tray import Tray
app = QApplication([])
tray = Tray()
seen = []
tray.show_about.connect(lambda: seen.append(1))
about = [a for a in tray._menu.actions() if a.text().startswith("About")]
about[0].trigger()
print(len(about), len(seen))
"""


def test_the_tray_menu_has_an_about_entry() -> None:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    done = subprocess.run(
        [sys.executable, "-c", TRAY_CHILD],
        check=False,
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["1", "1"]
