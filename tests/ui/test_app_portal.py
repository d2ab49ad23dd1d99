"""The app on a GNOME/KDE-like Wayland session, with the stand-in portal on its session bus
(tests/support/portal_stand_in.py): the GlobalShortcuts shortcut held down and released
drives a hold-mode dictation from the scripted backend, and ``auto`` types the words exactly
through the RemoteDesktop portal's keysyms. Qt itself runs on Xvfb (no GNOME or KDE here):
only the session's facts (XDG_SESSION_TYPE, XDG_CURRENT_DESKTOP) and the portals are theirs."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from app.core.settings import BackendKind, BackendSettings, Settings
from app.desktop import settings_store
from app.desktop.portal.bus import PortalBus
from app.desktop.typists.keysyms import SPECIAL, UNICODE_KEYSYM_OFFSET
from tests.support.desktop import Desktop, desktop, running_app, until
from tests.support.scripted_stream import scripted_stream

ROOT = Path(__file__).resolve().parents[2]
WORDS = [" Größe:", " “quoted”", " café…", " 日本語", " €5"]


@pytest.fixture
def kde(tmp_path: Path) -> Iterator[Desktop]:
    with desktop(tmp_path / "home", 86, tray=False) as d:
        d.env.update({"XDG_SESSION_TYPE": "wayland", "XDG_CURRENT_DESKTOP": "KDE"})
        portal = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.support.portal_stand_in",
                d.env["DBUS_SESSION_BUS_ADDRESS"],
            ],
            cwd=ROOT,
            stdout=subprocess.PIPE,
        )
        try:
            assert portal.stdout is not None
            assert portal.stdout.readline().strip() == b"ready"
            yield d
        finally:
            portal.terminate()
            portal.wait(timeout=10)


def control(d: Desktop, member: str, *args: str) -> Any:
    bus = PortalBus(d.env)
    try:
        signature = "s" if args else None
        return bus.call(
            "org.kyutai.PortalStandIn", member, signature, args, path="/org/kyutai/PortalStandIn"
        )
    finally:
        bus.close()


def typed(d: Desktop) -> str:
    keysyms = json.loads(control(d, "Log")[0])["keysyms"]
    special = {value: key for key, value in SPECIAL.items() if key != "\r"}
    presses = [k for k, state in keysyms if state == 1]
    return "".join(special.get(k) or chr(k & ~UNICODE_KEYSYM_OFFSET) for k in presses)


async def test_the_portal_shortcut_holds_a_dictation_typed_through_the_portal(
    kde: Desktop,
) -> None:
    expected = "".join(WORDS).lstrip()
    async with scripted_stream(WORDS, frames_per_word=2) as script:
        settings_store.save(
            Settings(BackendSettings(BackendKind.PROXY, url=script.url)), kde.config
        )
        async with running_app(kde) as app:
            assert "through the GlobalShortcuts portal (Press F9)" in app.output
            mark = app.mark()
            assert await asyncio.to_thread(control, kde, "Press", "dictate") == (1,)
            await app.wait_for_line("capturing from", after=mark)
            await until(lambda: len(script.sent_at) == len(WORDS), message=app.output)
            await asyncio.to_thread(control, kde, "Release", "dictate")
            await until(lambda: typed(kde) == expected, message=app.output)
    log = json.loads((await asyncio.to_thread(control, kde, "Log"))[0])
    assert log["dialogs"] == ["GlobalShortcuts.BindShortcuts", "RemoteDesktop.Start"]
