"""The app's shell for real under Xvfb: the tray icon, running without a tray, one instance
per user, and remote control with ``kyutai-dictate toggle`` for desktop shortcuts."""

from __future__ import annotations

import asyncio
import re
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.desktop import settings_store
from tests.support.desktop import (
    Desktop,
    Process,
    app_command,
    desktop,
    hotkey_held,
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
    async with scripted_dictation(session, WORDS, typed, frames_per_word=1) as (script, app):
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
        await until(lambda: len(script.sent_at) == len(WORDS))  # the audio flowed
        await control(session, "toggle")
        expected = "".join(WORDS).lstrip()
        assert await text_in(typed, expected) == expected, app.output

        await control(session, "quit")
        assert await asyncio.wait_for(app.process.wait(), 15) == 0, app.output


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
    async with scripted_dictation(session, WORDS, typed, frames_per_word=1) as (script, app):
        assert not any("no system tray" in line for line in app.lines)
        await click_tray_icon(session, app, logs="capturing from")
        clicked = time.monotonic()
        await until(lambda: len(script.sent_at) == len(WORDS))  # the audio flowed
        # Two clicks, not a double-click: Qt turns a second press within its double-click
        # interval into a DoubleClick activation, which the tray does not take as a click.
        # Here the time between the presses is the input itself.
        await asyncio.sleep(max(0.0, clicked + DOUBLE_CLICK_SECONDS - time.monotonic()))
        await click_tray_icon(session, app, logs="dictation: idle")
        expected = "".join(WORDS).lstrip()
        assert await text_in(typed, expected) == expected, app.output


# Qt's double-click interval, 400 ms (QPlatformTheme::MouseDoubleClickInterval; on xcb an
# XSETTINGS daemon could change it, and this desktop has none), with a margin.
DOUBLE_CLICK_SECONDS = 0.5


async def click_tray_icon(d: Desktop, app: Process, logs: str) -> None:
    """Left-click the app's tray icon; the app then logs ``logs``."""
    mark = app.mark()
    x, y = await tray_icon_position(d)
    d.xdotool("mousemove", str(x), str(y), "click", "1")
    await app.wait_for_line(logs, after=mark)


_GEOMETRY = (
    r"(\d+)x(\d+)\+-?\d+\+-?\d+\s+\+(-?\d+)\+(-?\d+)"  # WxH+x+y (in parent) +X+Y (on screen)
)
_ICON = re.compile(r'(0x[0-9a-f]+) "kyutai-dictate": \(.*\)\s+' + _GEOMETRY)
_PANEL = re.compile(r'"panel": \("panel" "trayer"\)\s+' + _GEOMETRY)


async def tray_icon_position(d: Desktop) -> tuple[int, int]:
    """The centre of the app's icon, once the tray host has embedded it and laid it out.

    Viewable is not enough: Qt maps the icon when trayer's GtkSocket sends
    XEMBED_EMBEDDED_NOTIFY, which it does as it reparents the icon, before GTK has allocated
    the socket (the icon is still at 0,0 on screen, or hangs off the panel's edge) and before
    trayer widens its panel (``--widthtype request``) and, aligned right, moves it left to
    fit. Under load that takes long enough for a click at the first position to miss. So the
    icon counts as placed once it lies inside trayer's panel; the embedded window is a child
    of the panel, so only the whole window tree shows it.
    """
    deadline = time.monotonic() + 20
    while (position := _placed_icon(d)) is None:
        assert time.monotonic() < deadline, "the tray icon was not placed in trayer's panel"
        await asyncio.sleep(0.05)
    return position


def _placed_icon(d: Desktop) -> tuple[int, int] | None:
    tree = d.window_tree()
    panel = _PANEL.search(tree)
    if panel is None:
        return None
    pw, ph, px, py = map(int, panel.groups())
    for match in _ICON.finditer(tree):
        w, h, x, y = map(int, match.groups()[1:])
        inside = px <= x and x + w <= px + pw and py <= y and y + h <= py + ph
        if w > 8 and h > 8 and inside and "IsViewable" in d.window_info(match[1]):
            return x + w // 2, y + h // 2
    return None


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
            async with hotkey_held(bare_session, app):
                await until(lambda: len(script.sent_at) == len(WORDS))  # the audio flowed
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
        async with hotkey_held(session, app):
            # The time held is the input here: the X server repeats F9 (after xset's 660 ms
            # delay, 25 times a second) only while it stays down, and no event tells when.
            await asyncio.sleep(1.5)
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
    async with (
        scripted_dictation(session, WORDS, tmp_path / "typed.txt") as (_, app),
        hotkey_held(session, app),  # the overlay shows while dictating
    ):
        session.xdotool("windowmove", await overlay_window(session), "100", "50")
        await until(lambda: settings_store.load(session.config).overlay.geometry[:2] == (100, 50))
    # The next start puts it where the user left it.
    async with running_app(session) as app, hotkey_held(session, app):
        position = session.xdotool("getwindowgeometry", "--shell", await overlay_window(session))
        assert "X=100" in position.split()
        assert "Y=50" in position.split()


async def overlay_window(d: Desktop) -> str:
    """The id of the visible caption overlay (waits for it to show)."""
    found = await asyncio.to_thread(
        d.xdotool, "search", "--sync", "--onlyvisible", "--name", "^kyutai-dictate captions$"
    )
    return found.split()[0]
