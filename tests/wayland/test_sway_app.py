"""The app under sway: how it is reached without a tray, and its hotkey route."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.desktop import target_window, until
from tests.support.scripted_stream import scripted_stream
from tests.support.sway import WaylandDesktop, sway_desktop
from tests.wayland.test_sway_dictation import OVERLAY, WORDS, cli, install_shortcut, wayland_app


@pytest.fixture
def trayless(tmp_path: Path) -> Iterator[WaylandDesktop]:
    with sway_desktop(tmp_path / "home", tray=False) as session:
        yield session


async def test_without_a_tray_the_app_says_how_to_reach_it(
    trayless: WaylandDesktop, tmp_path: Path
) -> None:
    install_shortcut(trayless)  # the overlay's window rules
    async with scripted_stream(WORDS) as script:
        trayless.use_backend(script.url)
        async with (
            target_window(trayless.env, tmp_path / "typed.txt"),
            wayland_app(trayless) as app,
        ):
            line = await app.wait_for_line("no system tray")
            assert "kyutai-dictate show" in line
            # The overlay says it on screen too, without taking the focus.
            await until(lambda: any(w.get("name") == OVERLAY for w in trayless.windows()))
            focused = trayless.focused()
            assert focused is not None
            assert focused["name"] == "typing target"
            # `show` opens the settings: without a tray there is no other way to them.
            done = await asyncio.to_thread(cli, trayless, "show")
            assert done.returncode == 0, done.stderr
            await until(
                lambda: any("settings" in str(w.get("name")) for w in trayless.windows()),
                message=str(trayless.windows()),
            )


async def test_on_sway_the_hotkey_is_the_installed_key_binding(sway: WaylandDesktop) -> None:
    async with scripted_stream(WORDS) as script:
        sway.use_backend(script.url)
        async with wayland_app(sway) as app:
            line = await app.wait_for_line("hotkey:")
            assert "kyutai-dictate shortcut --install" in line
            # Without the window rules sway would give the overlay the focus: not shown.
            assert (await asyncio.to_thread(cli, sway, "show")).returncode == 0
            await app.wait_for_line("shown on request")
            assert not any(w.get("name") == OVERLAY for w in sway.windows())
        install_shortcut(sway)
        async with wayland_app(sway) as app:
            line = await app.wait_for_line("hotkey:")
            assert "sway key binding" in line
            assert not any("global hotkeys are not available" in x for x in app.lines)
