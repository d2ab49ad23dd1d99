"""The Linux packages for real: ``installer/build-linux`` builds the PyInstaller bundle, the
.deb and the tarball; lintian and desktop-file-validate pass; ``dpkg -i`` puts the menu entry
and icons where a menu finds them; ``/usr/bin/kyutai-dictate`` runs under Xvfb with a tray
host from a directory outside the repository (so its icons come from the bundle) and dictates
into a real window; ``dpkg -r`` leaves nothing behind but the user's settings. The tarball's
install.sh installs into a temporary prefix, that copy runs the same way, and --uninstall
removes it."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.desktop import (
    ROOT,
    Desktop,
    desktop,
    spawn,
    target_window,
    text_in,
    until,
)
from tests.support.scripted_stream import scripted_stream
from tests.ui.test_app_shell import tray_icon_position

pytestmark = pytest.mark.timeout(600)

PACKAGE = "kyutai-dictate"
LAUNCHER = Path("/usr/bin/kyutai-dictate")
BUNDLE = Path("/usr/lib/kyutai-dictate")
MENU_ENTRY = Path("/usr/share/applications/kyutai-dictate.desktop")
HICOLOR = Path("/usr/share/icons/hicolor")
ICON_SIZES = (16, 22, 24, 32, 48, 64, 128, 256)
WORDS = [" Typed", " by", " the", " installed", " package."]


def as_root(*args: str) -> list[str]:
    """``args`` run as root (tests/run's machines run as root; elsewhere passwordless sudo)."""
    return list(args) if os.geteuid() == 0 else ["sudo", "-n", *args]


def check(args: list[str], timeout: float = 600, cwd: Path = ROOT) -> str:
    done = subprocess.run(
        args, cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False
    )
    assert done.returncode == 0, f"{args}:\n{done.stdout}\n{done.stderr}"
    return done.stdout + done.stderr


@pytest.fixture(scope="module")
def deb() -> Path:
    """The .deb built from this tree by installer/build-linux (its sizes and times printed)."""
    for tool in ("dpkg-deb", "lintian", "desktop-file-validate", "trayer", "xdotool"):
        if shutil.which(tool) is None:
            pytest.fail(f"{tool} is missing: run the README's test command (tests/run)")
    start = time.monotonic()
    out = check([str(ROOT / "installer" / "build-linux")])
    print(out, f"installer/build-linux took {time.monotonic() - start:.0f} s")
    (package,) = (ROOT / "dist").glob(f"{PACKAGE}_*.deb")
    return package


def test_lintian_finds_nothing_but_the_overridden_bundle_tags(deb: Path) -> None:
    check(["lintian", "--fail-on", "error,warning", str(deb)])


@pytest.fixture
def installed(deb: Path) -> Iterator[Path]:
    check(as_root("dpkg", "-i", str(deb)))
    try:
        yield deb
    finally:
        subprocess.run(as_root("dpkg", "-r", PACKAGE), capture_output=True, check=False)


@pytest.fixture
def session(tmp_path: Path) -> Iterator[Desktop]:
    with desktop(tmp_path / "home", 74) as d:
        yield d


async def test_the_installed_package_dictates_and_uninstalls_cleanly(
    installed: Path, session: Desktop, tmp_path: Path
) -> None:
    assert_where_a_menu_finds_it()

    await dictate_with(LAUNCHER, session, tmp_path)
    assert_removed_but_the_settings(session.config)


async def dictate_with(launcher: Path, session: Desktop, tmp_path: Path) -> None:
    """Start ``launcher`` under the session's Xvfb and tray host, from a directory where the
    repository is not and without its sources on the path; its tray icon shows, it answers
    ``toggle`` with a scripted dictation typed into a real window, and ``quit`` ends it."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {k: v for k, v in session.env.items() if k not in ("PYTHONPATH",)}
    env["PYTHON_KEYRING_BACKEND"] = "keyring.backends.fail.Keyring"
    version = check([str(launcher), "--version"], cwd=elsewhere).strip()
    assert version.startswith("kyutai-dictate ")

    async def control(command: str) -> None:
        done = await asyncio.to_thread(
            subprocess.run, [str(launcher), command], env=env, cwd=elsewhere,
            capture_output=True, text=True, timeout=30,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr

    typed = tmp_path / "typed.txt"
    async with scripted_stream(WORDS, frames_per_word=1) as script:
        session.use_backend(script.url)
        launch = [str(launcher), "--log-level", "debug", "--config", str(session.config)]
        async with (
            target_window(session.env, typed),
            spawn(launch, env, cwd=elsewhere) as app,
        ):
            await app.wait_for_line("listening for the hotkey")
            await tray_icon_position(session)  # the icon, from the bundle, in the tray
            assert not any("no system tray" in line for line in app.lines)

            await control("toggle")
            await app.wait_for_line("capturing from")
            await until(lambda: len(script.sent_at) == len(WORDS), message=app.output)
            await control("toggle")
            expected = "".join(WORDS).lstrip()
            assert await text_in(typed, expected) == expected, app.output

            await control("quit")
            assert await asyncio.wait_for(app.process.wait(), 15) == 0, app.output


def assert_where_a_menu_finds_it() -> None:
    assert LAUNCHER.is_symlink()
    assert LAUNCHER.resolve() == BUNDLE / PACKAGE
    check(["desktop-file-validate", str(MENU_ENTRY)])
    assert "Exec=kyutai-dictate\n" in MENU_ENTRY.read_text()
    for size in ICON_SIZES:
        assert (HICOLOR / f"{size}x{size}" / "apps" / f"{PACKAGE}.png").is_file()
    assert (HICOLOR / "scalable" / "apps" / f"{PACKAGE}.svg").is_file()


def assert_removed_but_the_settings(config: Path) -> None:
    """``dpkg -r`` leaves no file of the package, and the user's settings stay."""
    check(as_root("dpkg", "-r", PACKAGE))
    icons = [HICOLOR / f"{n}x{n}" / "apps" / f"{PACKAGE}.png" for n in ICON_SIZES]
    for path in (
        LAUNCHER,
        BUNDLE,
        MENU_ENTRY,
        *icons,
        HICOLOR / "scalable" / "apps" / f"{PACKAGE}.svg",
    ):
        assert not os.path.lexists(path), path
    status = subprocess.run(["dpkg", "-s", PACKAGE], capture_output=True, text=True, check=False)
    assert "install ok installed" not in status.stdout
    assert config.is_file()


def test_the_tarball_installs_into_a_prefix_runs_and_uninstalls(
    deb: Path, session: Desktop, tmp_path: Path
) -> None:
    (tarball,) = (ROOT / "dist").glob(f"{PACKAGE}-*-linux-*.tar.gz")
    check(["tar", "-xzf", str(tarball), "-C", str(tmp_path)])
    (unpacked,) = tmp_path.glob(f"{PACKAGE}-*-linux-*")
    prefix = tmp_path / "prefix"
    check([str(unpacked / "install.sh"), "--prefix", str(prefix)], cwd=tmp_path)
    unpacked.rename(tmp_path / "moved")  # the installed copy stands on its own
    entry = prefix / "share" / "applications" / f"{PACKAGE}.desktop"
    check(["desktop-file-validate", str(entry)])
    assert f"Exec={prefix}/bin/{PACKAGE}\n" in entry.read_text()
    assert (prefix / "share/icons/hicolor/48x48/apps" / f"{PACKAGE}.png").is_file()

    asyncio.run(dictate_with(prefix / "bin" / PACKAGE, session, tmp_path))

    install = tmp_path / "moved" / "install.sh"
    relative = subprocess.run(
        [str(install), "--prefix", "relative/dir"], capture_output=True, text=True, check=False
    )
    assert relative.returncode == 2
    assert "absolute path" in relative.stderr
    check([str(install), "--prefix", str(prefix), "--uninstall"], cwd=tmp_path)
    assert sorted(p.name for p in prefix.rglob("*") if not p.is_dir()) == []
