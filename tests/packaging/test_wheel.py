"""The wheel installs cleanly: built, installed into a fresh venv outside the repository, and
run from there, with its icons and ``.desktop`` file found inside the installed package."""

from __future__ import annotations

import os
import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
VERSION = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]

CHECK_RESOURCES = """
import app, app.ui.icons as icons
from pathlib import Path
from PySide6.QtWidgets import QApplication
from app.core.status import Look
qt = QApplication([])
print(Path(app.__file__).parent)
print(icons.RESOURCES)
print(all(not icons.icon(look).isNull() for look in Look))
print((icons.RESOURCES / "kyutai-dictate.desktop").is_file())
"""


def run(args: list[str], cwd: Path, **env: str) -> str:
    done = subprocess.run(
        args,
        cwd=cwd,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, f"{args}: {done.stdout}\n{done.stderr}"
    return done.stdout


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A venv outside the repository with the freshly built wheel installed."""
    uv = shutil.which("uv")
    assert uv, "uv is missing: run the README's test command (tests/run)"
    where = tmp_path_factory.mktemp("wheel")
    assert ROOT not in where.parents
    run([uv, "build", "--wheel", "--out-dir", str(where / "dist"), str(ROOT)], where)
    (wheel,) = (where / "dist").glob("kyutai_dictate-*.whl")
    env = {"VIRTUAL_ENV": str(where / "venv")}
    env.pop("UV_PROJECT_ENVIRONMENT", None)
    run([uv, "venv", "--quiet", str(where / "venv")], where)
    run([uv, "pip", "install", "--quiet", str(wheel)], where, **env)
    return where


def test_the_installed_command_prints_its_version(installed: Path) -> None:
    out = run([str(installed / "venv" / "bin" / "kyutai-dictate"), "--version"], installed)
    assert out.strip() == f"kyutai-dictate {VERSION}"


def test_the_installed_app_finds_its_icons_in_the_package(installed: Path) -> None:
    python = installed / "venv" / "bin" / "python"
    out = run([str(python), "-c", CHECK_RESOURCES], installed, QT_QPA_PLATFORM="offscreen")
    package, resources, icons_render, desktop_file = out.split("\n")[:4]
    assert Path(package).is_relative_to(installed / "venv")
    assert Path(resources) == Path(package) / "resources"
    assert icons_render == "True"
    assert desktop_file == "True"


def test_the_installed_shortcut_command_finds_the_window_rules(installed: Path) -> None:
    command = [str(installed / "venv" / "bin" / "kyutai-dictate"), "shortcut", "--desktop", "sway"]
    out = run(command, installed, XDG_CONFIG_HOME=str(installed / "config"))
    assert "bindsym --release F9 exec" in out
    assert 'no_focus [app_id="^kyutai-dictate$"' in out
