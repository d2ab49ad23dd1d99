"""The app's shell for real under Xvfb: the tray icon, running without a tray, one instance
per user, and remote control with ``kyutai-dictate toggle`` for desktop shortcuts."""

from __future__ import annotations

import asyncio
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.desktop import settings_store
from tests.support.desktop import (
    Desktop,
    Process,
    app_command,
    desktop,
    hold_hotkey,
    running_app,
    scripted_dictation,
    spawn,
    target_window,
    text_in,
    tray_host,
)
from tests.support.scripted_stream import scripted_stream
from tests.ui.test_app_dictation import control, until

WORDS = [" Toggled", " from", " a", " desktop", " shortcut."]


@pytest.fixture
def session(tmp_path: Path) -> Iterator[Desktop]:
    with desktop(tmp_path / "home", 72) as d:
        yield d


async def test_toggle_command_dictates_and_a_second_launch_shows_the_first(
    session: Desktop, tmp_path: Path
) -> None:
    typed = tmp_path / "typed.txt"
    async with scripted_dictation(session, WORDS, typed, frames_per_word=1) as (_, app):
        second = await asyncio.to_thread(
            subprocess.run, app_command(), env=session.env, capture_output=True, text=True,
            timeout=30,
        )  # fmt: skip
        assert second.returncode == 0
        assert "already running" in second.stderr
        assert app.process.returncode is None
        await app.wait_for_line("shown on request")

        await control(session, "toggle")
        await app.wait_for_line("capturing from")
        await asyncio.sleep(0.6)
        await control(session, "toggle")
        expected = "".join(WORDS).lstrip()
        assert await text_in(typed, expected) == expected, app.output

        await control(session, "quit")
        assert await asyncio.wait_for(app.process.wait(), 15) == 0


async def test_control_commands_without_a_running_app_say_so(session: Desktop) -> None:
    done = await asyncio.to_thread(
        subprocess.run, app_command("toggle"), env=session.env, capture_output=True, text=True
    )
    assert done.returncode == 1
    assert "kyutai-dictate is not running" in done.stderr


async def test_the_tray_icon_shows_and_a_click_toggles_dictation(
    session: Desktop, tmp_path: Path
) -> None:
    typed = tmp_path / "typed.txt"
    async with scripted_dictation(session, WORDS, typed, frames_per_word=1) as (_, app):
        assert not any("no system tray" in line for line in app.lines)
        await click_tray_icon(session, app, until="capturing from")
        await asyncio.sleep(0.6)
        await click_tray_icon(session, app, until="dictation: idle")
        assert typed.read_text() == "".join(WORDS).lstrip()


async def click_tray_icon(d: Desktop, app: Process, until: str) -> None:
    """Left-click the app's tray icon until the app logs ``until``. Under load, trayer may
    still be placing the icon right after embedding it, so a click can land beside it:
    the position is read again for a second try (two misses fail the test)."""
    mark = app.mark()
    for attempt in (1, 2):
        x, y = await tray_icon_position(d)
        d.xdotool("mousemove", str(x), str(y), "sleep", "0.1", "click", "1")
        try:
            await app.wait_for_line(until, timeout=5, after=mark)
            return
        except AssertionError:
            if attempt == 2:
                raise


async def tray_icon_position(d: Desktop) -> tuple[int, int]:
    """The centre of the app's icon, once the tray host has embedded it (the icon window
    is then a child of trayer's panel, so only the whole window tree shows it)."""
    pattern = re.compile(
        r'(0x[0-9a-f]+) "kyutai-dictate": \(.*\)\s+(\d+)x(\d+)\+-?\d+\+-?\d+\s+\+(\d+)\+(\d+)'
    )
    for _ in range(100):
        for match in pattern.finditer(d.window_tree()):
            window = match[1]
            width, height, x, y = map(int, match.groups()[1:])
            if width > 8 and height > 8 and "IsViewable" in d.window_info(window):
                await asyncio.sleep(0.3)  # let the XEMBED handshake finish
                return x + width // 2, y + height // 2
        await asyncio.sleep(0.1)
    raise AssertionError("the tray icon was not embedded")


@pytest.fixture
def bare_session(tmp_path: Path) -> Iterator[Desktop]:
    with desktop(tmp_path / "home", 73, tray=False) as d:
        yield d


async def test_without_a_tray_the_app_works_and_its_icon_appears_when_a_tray_does(
    bare_session: Desktop, tmp_path: Path
) -> None:
    typed = tmp_path / "typed.txt"
    async with scripted_stream(WORDS, frames_per_word=1) as script:
        bare_session.use_backend(script.url)
        async with (
            target_window(bare_session.env, typed),
            spawn(app_command("--config", str(bare_session.config)), bare_session.env) as app,
        ):
            await app.wait_for_line("no system tray on this desktop")
            with tray_host(bare_session.env):  # the panel starts after the app (login race)
                await tray_icon_position(bare_session)
            await app.wait_for_line("listening for the hotkey")
            await hold_hotkey(bare_session, app, 0.6)
            expected = "".join(WORDS).lstrip()
            assert await text_in(typed, expected) == expected, app.output


async def test_first_run_opens_the_setup_dialog(session: Desktop) -> None:
    """No backend configured: the settings dialog opens by itself with the choices."""
    async with running_app(session):
        found = await asyncio.to_thread(
            session.xdotool, "search", "--sync", "--name", "^Set up Kyutai Dictate$"
        )
        assert found.split()
        assert not session.config.exists()  # nothing saved until the user saves


async def test_x11_autorepeat_neither_restarts_nor_ends_a_held_dictation(
    session: Desktop, tmp_path: Path
) -> None:
    typed = tmp_path / "typed.txt"
    session.set_autorepeat(True)  # as on a real desktop
    async with scripted_dictation(session, WORDS, typed) as (script, app):
        await hold_hotkey(session, app, 1.5)  # the X server repeats F9 all this while
        expected = "".join(WORDS).lstrip()
        assert await text_in(typed, expected) == expected, app.output
        await app.wait_for_line("dictation: idle")
    assert sum("capturing from" in line for line in app.lines) == 1
    assert sum("hotkey start" in line for line in app.lines) == 1
    assert sum("hotkey stop" in line for line in app.lines) == 1
    assert script.sessions == 1


async def test_the_overlay_is_movable_and_its_place_is_remembered(
    session: Desktop, tmp_path: Path
) -> None:
    async with scripted_dictation(session, WORDS, tmp_path / "typed.txt") as (_, app):
        await hold_hotkey(session, app, 0.5)  # the overlay shows while dictating
        session.xdotool("windowmove", await overlay_window(session), "100", "50")
        await until(lambda: settings_store.load(session.config).overlay.geometry[:2] == (100, 50))
    # The next start puts it where the user left it.
    async with running_app(session) as app:
        await hold_hotkey(session, app, 0.3)
        position = session.xdotool("getwindowgeometry", "--shell", await overlay_window(session))
        assert "X=100" in position.split()
        assert "Y=50" in position.split()


async def overlay_window(d: Desktop) -> str:
    """The id of the visible caption overlay (waits for it to show)."""
    found = await asyncio.to_thread(
        d.xdotool, "search", "--sync", "--onlyvisible", "--name", "^kyutai-dictate captions$"
    )
    return found.split()[0]
