"""Every ``modal`` command line the project runs or prints, read by the real client's parser;
and the ``modal`` stand-in refuses what the real CLI refuses."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import click
import pytest

from app.cli import deploy
from tests.support.modal_cli import parse

ROOT = Path(__file__).resolve().parents[3]
STAND_IN = ROOT / "tests/support/modal_stand_in/modal"

COMMAND_LINES = {
    "deploy": deploy.modal_deploy_command(),
    "status": deploy.modal_list_command(),
    "stop": deploy.modal_stop_command("kyutai-dictate"),
    "stop a compared GPU": deploy.modal_stop_command("kyutai-dictate-a10g"),
    "log in": list(deploy.MODAL_LOGIN_COMMAND),
}


@pytest.mark.parametrize("args", COMMAND_LINES.values(), ids=COMMAND_LINES.keys())
def test_the_real_modal_client_accepts_every_command_line(args: list[str]) -> None:
    command, params = parse(args)
    assert args[: len(command.split())] == command.split()
    # Run from a program (output piped, maybe no terminal): nothing may stop to ask.
    assert params.get("yes", True) is True


def test_the_parser_refuses_what_modal_refuses() -> None:
    with pytest.raises(click.NoSuchOption):
        parse(["app", "stop", "--force", "kyutai-dictate"])
    with pytest.raises(click.UsageError, match="app_ref"):
        parse(["deploy", "-m"])
    with pytest.raises(click.UsageError):
        parse(["apps", "list"])
    assert parse(["app", "stop", "-y", "x"]) == (
        "app stop",
        {"app_identifier": "x", "yes": True, "env": None},
    )


def run_stand_in(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = os.environ | {
        "STANDIN_LOG": str(tmp_path / "calls.log"),
        "STANDIN_PYTHON": sys.executable,
    }
    return subprocess.run(
        [str(STAND_IN), *args],
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_the_stand_in_asks_before_stopping_like_modal(tmp_path: Path) -> None:
    done = run_stand_in(tmp_path, "app", "stop", "kyutai-dictate")
    assert done.returncode == 1
    assert "Are you sure you want to stop App 'kyutai-dictate'?" in done.stdout
    assert "Rerun with --yes (-y) to skip confirmation" in done.stderr
    assert run_stand_in(tmp_path, "app", "stop", "kyutai-dictate", "--yes").returncode == 0


def test_the_stand_in_refuses_unknown_arguments(tmp_path: Path) -> None:
    done = run_stand_in(tmp_path, "app", "stop", "--force", "kyutai-dictate")
    assert done.returncode == 2
    assert "Error: No such option '--force'." in done.stderr
    calls = (tmp_path / "calls.log").read_text().splitlines()
    assert calls == ["modal app stop --force kyutai-dictate | gpu= batch= model= app="]
