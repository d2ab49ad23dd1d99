"""Start at login: the XDG autostart entry, its Exec quoting, enabling and disabling."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from app.desktop.autostart import (
    AutostartError,
    autostart_path,
    desktop_entry,
    exec_line,
    launch_command,
    set_autostart,
    supported,
)

RESOURCES = Path(__file__).resolve().parents[3] / "resources"


def unquote_exec(value: str) -> list[str]:
    """The Desktop Entry spec's reading of an Exec value (string escapes, then quoting)."""
    unescaped, i = "", 0
    while i < len(value):
        if value[i] == "\\":
            unescaped += {"s": " ", "n": "\n", "t": "\t", "r": "\r", "\\": "\\"}[value[i + 1]]
            i += 2
        else:
            unescaped += value[i]
            i += 1
    args: list[str] = []
    current: str | None = None
    i = 0
    while i < len(unescaped):
        c = unescaped[i]
        if c == '"':
            current = current or ""
            i += 1
            while unescaped[i] != '"':
                if unescaped[i] == "\\":
                    assert unescaped[i + 1] in '"`$\\'
                    i += 1
                current += unescaped[i]
                i += 1
        elif c == " ":
            if current is not None:
                args.append(current)
            current = None
        else:
            assert c not in "\"'\\><~|&;$*?#()`\t\n", f"unquoted reserved character {c!r}"
            current = (current or "") + c
        i += 1
    if current is not None:
        args.append(current)
    return [arg.replace("%%", "%") for arg in args]


def entry_values(text: str) -> dict[str, str]:
    lines = text.splitlines()
    assert lines[0] == "[Desktop Entry]"
    return dict(line.split("=", 1) for line in lines[1:] if line)


def test_the_path_follows_xdg_config_home(tmp_path: Path) -> None:
    env = {"XDG_CONFIG_HOME": str(tmp_path), "HOME": "/nowhere"}
    assert autostart_path(env) == tmp_path / "autostart" / "kyutai-dictate.desktop"


@pytest.mark.parametrize("config_home", ["", "relative/dir"])
def test_without_a_usable_xdg_config_home_it_is_under_home(config_home: str) -> None:
    env = {"XDG_CONFIG_HOME": config_home, "HOME": "/home/me"}
    assert autostart_path(env) == Path("/home/me/.config/autostart/kyutai-dictate.desktop")


def test_the_entry_has_what_autostart_needs() -> None:
    values = entry_values(desktop_entry(["/usr/bin/kyutai-dictate"]))
    assert values["Type"] == "Application"
    assert values["Name"] == "Kyutai Dictate"
    assert values["Exec"] == "/usr/bin/kyutai-dictate"
    assert values["Icon"] == "kyutai-dictate"
    assert values["X-GNOME-Autostart-enabled"] == "true"
    assert values["Comment"]


@pytest.mark.parametrize(
    "command",
    [
        ["/home/a user/.venv/bin/python", "-m", "app"],
        ["/opt/Kyutai Dictate/kyutai-dictate"],
        ['/tmp/we"ird $HOME `x` back\\slash', "100%", "a;b", "tab\there", ""],
        ["/usr/bin/python3", "-m", "app", "--config", "/home/me/my config (2).toml"],
    ],
)
def test_exec_quoting_reads_back_as_the_same_arguments(command: list[str]) -> None:
    line = exec_line(command)
    assert unquote_exec(line) == command


def test_a_path_with_spaces_is_quoted() -> None:
    assert exec_line(["/home/a b/python", "-m", "app"]) == '"/home/a b/python" -m app'


def test_the_entry_passes_desktop_file_validate(tmp_path: Path) -> None:
    if shutil.which("desktop-file-validate") is None:
        pytest.fail("desktop-file-validate is missing: run the README's test command (tests/run)")
    entry = tmp_path / "kyutai-dictate.desktop"
    entry.write_text(desktop_entry(["/home/a b/python", "-m", "app", "100%"]))
    for path in (entry, RESOURCES / "kyutai-dictate.desktop"):
        result = subprocess.run(
            ["desktop-file-validate", str(path)], capture_output=True, text=True, check=False
        )
        assert result.returncode == 0, result.stdout + result.stderr
        assert "error" not in result.stdout.lower(), result.stdout


def test_the_launcher_entry_runs_the_installed_command() -> None:
    values = entry_values((RESOURCES / "kyutai-dictate.desktop").read_text().split("\n\n")[0])
    assert values["Exec"] == "kyutai-dictate"
    assert values["Name"] == "Kyutai Dictate"


def test_enable_and_disable_twice(tmp_path: Path) -> None:
    env = {"XDG_CONFIG_HOME": str(tmp_path / "config"), "HOME": str(tmp_path)}
    path = autostart_path(env)
    command = ["/home/a b/python", "-m", "app"]
    for _ in range(2):
        set_autostart(True, command, env, platform="linux")
        assert unquote_exec(entry_values(path.read_text())["Exec"]) == command
        assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temp file left
    for _ in range(2):
        set_autostart(False, command, env, platform="linux")
        assert not path.exists()


def test_enabling_replaces_an_older_entry(tmp_path: Path) -> None:
    env = {"XDG_CONFIG_HOME": str(tmp_path)}
    set_autostart(True, ["/old/kyutai-dictate"], env, platform="linux")
    set_autostart(True, ["/new/kyutai-dictate"], env, platform="linux")
    assert entry_values(autostart_path(env).read_text())["Exec"] == "/new/kyutai-dictate"


def test_a_file_that_cannot_be_written_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "autostart").write_text("a file where the folder should be")
    with pytest.raises(AutostartError, match="cannot write"):
        set_autostart(True, ["x"], {"XDG_CONFIG_HOME": str(tmp_path)}, platform="linux")


@pytest.mark.parametrize(("platform", "name"), [("win32", "Windows"), ("darwin", "macOS")])
def test_other_platforms_are_not_supported_yet(tmp_path: Path, platform: str, name: str) -> None:
    env = {"XDG_CONFIG_HOME": str(tmp_path)}
    assert not supported(platform)
    with pytest.raises(AutostartError, match=f"not supported yet on {name}"):
        set_autostart(True, ["x"], env, platform=platform)
    set_autostart(False, ["x"], env, platform=platform)  # nothing to undo
    assert not any(tmp_path.iterdir())


def test_the_launch_command() -> None:
    assert launch_command("/venv/bin/python", frozen=False) == ["/venv/bin/python", "-m", "app"]
    assert launch_command("/opt/kd/kyutai-dictate", frozen=True) == ["/opt/kd/kyutai-dictate"]
    assert supported("linux")
