"""The desktop key bindings ``kyutai-dictate shortcut`` writes, per desktop, and installing them.

The sway text is loaded into a real sway in tests/wayland; Hyprland's is checked against a
stand-in of its parser (tests/support/hyprland_config.py); GNOME's through the real gsettings with
gnome-settings-daemon's schemas (tests/support/gnome_settings.py), KDE's through a stand-in
of kwriteconfig6 that keeps what it is told."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from app.cli.shortcut import _rules
from app.core.desktop_session import wayland_desktop
from app.core.hotkey import parse_chord
from app.core.shortcuts import (
    GNOME_PATH,
    GNOME_SCHEMA,
    Desktop,
    ShortcutError,
    gnome_accelerator,
    gnome_commands,
    hyprland_binding,
    kde_shortcut,
    keysym,
    parse_gvariant_strings,
    sway_binding,
)
from app.desktop.compositor_config import includes
from tests.support.gnome_settings import gnome_settings, gsettings_get
from tests.support.hyprland_config import HyprlandConfigError, check_bind, check_config

ROOT = Path(__file__).resolve().parents[3]
STAND_INS = ROOT / "tests" / "support" / "desktop_stand_ins"


@pytest.mark.parametrize(
    ("env", "desktop"),
    [
        ({"SWAYSOCK": "/run/user/1000/sway-ipc.sock"}, Desktop.SWAY),
        (
            {"HYPRLAND_INSTANCE_SIGNATURE": "abc", "XDG_CURRENT_DESKTOP": "Hyprland"},
            Desktop.HYPRLAND,
        ),
        ({"XDG_CURRENT_DESKTOP": "ubuntu:GNOME"}, Desktop.GNOME),
        ({"XDG_CURRENT_DESKTOP": "KDE"}, Desktop.KDE),
        ({"XDG_CURRENT_DESKTOP": "sway"}, Desktop.SWAY),
        ({"XDG_CURRENT_DESKTOP": "XFCE"}, None),
        ({}, None),
    ],
)
def test_the_running_desktop_is_recognised(env: dict[str, str], desktop: Desktop | None) -> None:
    assert wayland_desktop(env) is desktop


@pytest.mark.parametrize(
    ("key", "name"),
    [
        ("f9", "F9"),
        ("d", "d"),
        ("page_up", "Prior"),
        ("scroll_lock", "Scroll_Lock"),
        ("pause", "Pause"),
    ],
)
def test_pynput_key_names_become_keysym_names(key: str, name: str) -> None:
    assert keysym(key) == name


def test_sway_hold_binds_press_and_release_and_the_overlay_rules() -> None:
    text = sway_binding(parse_chord("<ctrl>+<alt>+d"), "/usr/bin/kyutai-dictate", True, "rule").text
    assert "bindsym --no-repeat Ctrl+Mod1+d exec /usr/bin/kyutai-dictate start\n" in text
    assert "bindsym --release Ctrl+Mod1+d exec /usr/bin/kyutai-dictate stop\n" in text
    assert text.endswith("rule\n")


def test_sway_toggle_binds_the_press_only() -> None:
    binding = sway_binding(parse_chord("<f9>"), "kd", False, "")
    assert "bindsym --no-repeat F9 exec kd toggle" in binding.text
    assert "--release" not in binding.text


def test_the_hyprland_snippet_is_accepted_by_hyprlands_parser() -> None:
    chord = parse_chord("<cmd>+<shift>+<f9>")
    text = hyprland_binding(chord, "/opt/kd/bin/kyutai-dictate", True, _rules("hyprland.conf")).text
    lines = check_config(text)
    assert ("bind", "SUPER SHIFT, F9, exec, /opt/kd/bin/kyutai-dictate start") in lines
    assert ("bindr", "SUPER SHIFT, F9, exec, /opt/kd/bin/kyutai-dictate stop") in lines
    assert any(keyword == "windowrule" and "no_focus on" in value for keyword, value in lines)


def test_the_hyprland_stand_in_refuses_what_hyprland_refuses() -> None:
    for keyword, value in [
        ("bindre", "ALT, F9, exec, x"),  # e with r
        ("bindq", "ALT, F9, exec, x"),  # no such flag
        ("bind", "ALT, F9"),  # too few arguments
        ("bind", "HYPER, F9, exec, x"),  # no such modifier
        ("bind", "ALT, Eff9, exec, x"),  # no such key
        ("bind", "ALT, F9, run, x"),  # no such dispatcher
    ]:
        with pytest.raises(HyprlandConfigError):
            check_bind(keyword, value)
    with pytest.raises(HyprlandConfigError):
        check_config("windowrulev2 = float, class:^(x)$")
    with pytest.raises(HyprlandConfigError):
        check_config("windowrule = match:class x, float")  # an effect needs a value


def test_gnome_gets_a_toggle_shortcut_and_keeps_the_users_others() -> None:
    chord = parse_chord("<ctrl>+<alt>+d")
    assert gnome_accelerator(chord) == "<Control><Alt>d"
    other = "/org/gnome/settings-daemon/plugins/media-keys/custom-keybindings/custom0/"
    runs = gnome_commands(chord, "kyutai-dictate", [other])
    assert runs[0][-1] == f"['{other}', '{GNOME_PATH}']"
    assert runs[2][-2:] == ["command", "kyutai-dictate toggle"]
    assert gnome_commands(chord, "kd", [GNOME_PATH])[0][-1] == f"['{GNOME_PATH}']"  # once


def test_gsettings_string_lists_are_read_and_anything_else_refused() -> None:
    assert parse_gvariant_strings("@as []\n") == []
    assert parse_gvariant_strings("['/a/', '/b/']") == ["/a/", "/b/"]
    with pytest.raises(ShortcutError):
        parse_gvariant_strings("uint32 5")


def test_kde_shortcuts_are_in_qt_key_sequence_form() -> None:
    assert kde_shortcut(parse_chord("<ctrl>+<alt>+d")) == "Ctrl+Alt+D"
    assert kde_shortcut(parse_chord("<cmd>+<f9>")) == "Meta+F9"


def test_an_include_is_recognised_by_path_or_glob(tmp_path: Path) -> None:
    target = tmp_path / "sway" / "config.d" / "kyutai-dictate.conf"
    env = {"HOME": str(tmp_path)}
    assert includes(f"include {target}\n", target, env)
    assert includes(f"include {tmp_path}/sway/config.d/*\n", target, env)
    assert includes("include $HOME/sway/config.d/*\n", target, env)
    assert includes("include ~/sway/config.d/kyutai-dictate.conf\n", target, env)
    assert not includes("include /etc/sway/config.d/*\n", target, env)


def shortcut(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    config = tmp_path / "app.toml"
    config.write_text('[dictation]\nhotkey = "<f9>"\nmode = "hold"\n')
    return subprocess.run(
        [sys.executable, "-m", "app", "shortcut", "--config", str(config), *args],
        cwd=ROOT,
        env={**os.environ, "XDG_CONFIG_HOME": str(tmp_path / "config"), **env},
        capture_output=True,
        text=True,
        check=False,
    )


def test_install_adds_the_include_once_and_refuses_without_a_user_config(tmp_path: Path) -> None:
    env = {"SWAYSOCK": ""}
    refused = shortcut(tmp_path, "--desktop", "sway", "--install", **env)
    assert refused.returncode != 0
    assert "cp /etc/sway/config" in refused.stderr
    main = tmp_path / "config" / "sway" / "config"
    main.parent.mkdir(parents=True)
    main.write_text("set $mod Mod4")  # no newline at the end
    for _ in range(2):
        done = shortcut(tmp_path, "--desktop", "sway", "--install", **env)
        assert done.returncode == 0, done.stderr
    target = main.parent / "config.d" / "kyutai-dictate.conf"
    assert main.read_text() == f"set $mod Mod4\ninclude {target}\n"
    assert "bindsym --release F9 exec" in target.read_text()


def test_printing_writes_nothing(tmp_path: Path) -> None:
    done = shortcut(tmp_path, "--desktop", "hyprland")
    assert done.returncode == 0, done.stderr
    assert "bindr = , F9, exec," in done.stdout
    assert check_config(done.stdout)
    assert not (tmp_path / "config").exists()


def test_no_known_desktop_is_a_clear_error(tmp_path: Path) -> None:
    env = {"SWAYSOCK": "", "HYPRLAND_INSTANCE_SIGNATURE": "", "XDG_CURRENT_DESKTOP": "XFCE"}
    done = shortcut(tmp_path, **env)
    assert done.returncode == 2
    assert "choose one with --desktop" in done.stderr


def test_gnome_install_adds_a_custom_shortcut_beside_the_users_own(tmp_path: Path) -> None:
    """Through the real gsettings, with gnome-settings-daemon's schemas (see the helper)."""
    gnome = gnome_settings(tmp_path / "gnome")
    env = {**os.environ, **gnome}
    other = "/org/gnome/settings-daemon/plugins/media-keys/custom-keybindings/custom0/"
    listing = ["gsettings", "set", GNOME_SCHEMA, "custom-keybindings", f"['{other}']"]
    subprocess.run(listing, env=env, check=True)
    for _ in range(2):  # a second install changes nothing
        done = shortcut(tmp_path, "--desktop", "gnome", "--install", **gnome)
        assert done.returncode == 0, done.stderr
    assert gsettings_get(env, GNOME_SCHEMA, "custom-keybindings") == f"['{other}', '{GNOME_PATH}']"
    item = f"{GNOME_SCHEMA}.custom-keybinding:{GNOME_PATH}"
    assert gsettings_get(env, item, "binding") == "'F9'"
    assert gsettings_get(env, item, "name") == "'kyutai-dictate'"
    assert gsettings_get(env, item, "command").endswith(" toggle'")


def test_a_refusing_gsettings_is_reported(tmp_path: Path) -> None:
    """The real gsettings on a system without gnome-settings-daemon's schemas."""
    gnome = gnome_settings(tmp_path / "gnome", media_keys=False)
    done = shortcut(tmp_path, "--desktop", "gnome", "--install", **gnome)
    assert done.returncode == 2
    assert f"No such schema “{GNOME_SCHEMA}”" in done.stderr


def test_kde_install_writes_the_entry_and_its_key(tmp_path: Path) -> None:
    env = {
        "PATH": f"{STAND_INS}{os.pathsep}{os.environ['PATH']}",
        "XDG_DATA_HOME": str(tmp_path / "data"),
    }
    done = shortcut(tmp_path, "--desktop", "kde", "--install", **env)
    assert done.returncode == 0, done.stderr
    entry = tmp_path / "data" / "applications" / "net.local.kyutai-dictate-toggle.desktop"
    assert "X-KDE-GlobalAccel-CommandShortcut=true" in entry.read_text()
    shortcuts = (tmp_path / "config" / "kglobalshortcutsrc").read_text()
    assert "[services][net.local.kyutai-dictate-toggle.desktop]\n_launch=F9" in shortcuts
