"""The Windows and macOS installers cannot be built here: check what can be checked. The
PyInstaller backends named for each platform exist in pynput, the macOS entitlements parse
and grant the microphone, the .app declares why it uses the microphone, and the Inno Setup
script installs the bundle with a Start menu entry, an optional start at sign-in and files
that exist."""

from __future__ import annotations

import ast
import importlib.util
import plistlib
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
INSTALLER = ROOT / "installer"
SPEC = (INSTALLER / "kyutai-dictate.spec").read_text()


def test_every_pynput_backend_the_spec_names_exists() -> None:
    tree = ast.parse(SPEC)
    named = {
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and node.value.startswith("pynput.")
    }
    assert {"pynput.keyboard._xorg", "pynput.keyboard._win32", "pynput.keyboard._darwin"} <= named
    spec = importlib.util.find_spec("pynput")
    assert spec is not None
    assert spec.submodule_search_locations is not None
    package = Path(next(iter(spec.submodule_search_locations)))
    for module in named:
        path = package.joinpath(*module.split(".")[1:])
        assert path.with_suffix(".py").is_file(), module


def test_the_mac_app_asks_for_the_microphone() -> None:
    entitlements = plistlib.loads((INSTALLER / "macos" / "entitlements.plist").read_bytes())
    assert entitlements["com.apple.security.device.audio-input"] is True
    assert '"NSMicrophoneUsageDescription"' in SPEC
    assert "entitlements.plist" in SPEC


def test_the_inno_setup_script_installs_the_bundle_with_its_entries() -> None:
    iss = (INSTALLER / "windows" / "kyutai-dictate.iss").read_text()
    sections = set(re.findall(r"^\[(\w+)\]", iss, re.MULTILINE))
    assert {"Setup", "Tasks", "Files", "Icons", "Run"} <= sections
    assert re.search(r'^Name: "\{autoprograms\}\\Kyutai Dictate"', iss, re.MULTILINE)
    assert re.search(r'^Name: "\{autostartup\}.*Tasks: startup$', iss, re.MULTILINE)
    assert re.search(r'^Name: "startup".*Flags: unchecked$', iss, re.MULTILINE)  # optional
    here = INSTALLER / "windows"
    license_file = re.search(r"^LicenseFile=(.+)$", iss, re.MULTILINE)
    assert license_file is not None
    assert (here / license_file[1].replace("\\", "/")).is_file()
    source = re.search(r'^Source: "([^"]+)\\\*"', iss, re.MULTILINE)
    assert source is not None
    assert (here / source[1].replace("\\", "/")).resolve() == ROOT / "dist" / "kyutai-dictate"
