"""Screenshots of the real app for the README, taken under Xvfb.

    uv run python -m tests.support.screenshots docs/screenshots

Runs the app in a test desktop (tests/support/desktop.py) against a scripted backend,
dictates into a window, opens the tray menu, the History window (with a few earlier
dictations) and the first-run settings dialog, and writes ``overlay.png``, ``tray-menu.png``,
``history.png`` and ``settings.png``.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from app.core.history import Outcome
from app.core.settings import BackendKind, BackendSettings, OverlaySettings, Settings
from app.desktop import settings_store
from app.desktop.history_store import FILE_NAME, HistoryStore, NewDictation
from tests.support.desktop import (
    Desktop,
    app_command,
    desktop,
    running_app,
    target_window,
    text_in,
)
from tests.support.scripted_stream import scripted_stream

TEXT = "Dictation that keeps up with you: every word, typed where you work."


EARLIER = [  # minutes ago, window, outcome, text, seconds of audio
    (95, "Inbox - Mail", Outcome.TYPED, "Thanks, the figures look right. Let's ship on Monday.", 4),
    (52, "notes.md - Editor", Outcome.HELD, "Call the printer about the proofs before noon.", 3),
    (18, "Budget review", Outcome.FAILED, "The second quarter", 9),
    (7, "Terminal", Outcome.CANCELLED, "", 2),
]


def earlier_dictations(d: Desktop) -> None:
    """A few dictations in the test desktop's history, as the app would have stored them."""
    data = Path(d.env.get("XDG_DATA_HOME") or d.home / ".local" / "share")
    store = HistoryStore(data / "kyutai-dictate" / FILE_NAME)
    for minutes, window, outcome, text, seconds in EARLIER:
        audio = np.zeros(24_000 * seconds, dtype="<f4").tobytes()
        when = time.time() - 60 * minutes
        store.add(NewDictation(when, "proxy gpu.lan", window, outcome, text, audio))
    store.close()


def crop(d: Desktop, out: Path, geometry: str) -> None:
    """Screenshot the screen's ``WxH+X+Y`` region into ``out``."""
    full = out.with_suffix(".full.png")
    d.screenshot(full)
    subprocess.run(["convert", str(full), "-crop", geometry, "+repage", str(out)], check=True)
    full.unlink()


async def take(out: Path, home: Path) -> None:
    words = [f" {word}" for word in TEXT.split()]
    with desktop(home / "home", 79) as d:
        async with scripted_stream(words, frames_per_word=4) as script:
            overlay = OverlaySettings(latency=True, geometry=(240, 420, 800, 110))
            backend = BackendSettings(BackendKind.PROXY, url=script.url)
            settings_store.save(Settings(backend, overlay=overlay), d.config)
            typed = home / "typed.txt"
            async with (
                target_window(d.env, typed, "Notes"),
                running_app(d) as app,
            ):
                d.xdotool("windowmove", d.xdotool("search", "--name", "^Notes$").split()[0],
                          "240", "120")  # fmt: skip
                d.xdotool("keydown", "F9")
                expected = "".join(words).lstrip()
                await text_in(typed, expected)
                crop(d, out / "overlay.png", "840x440+220+100")
                d.xdotool("keyup", "F9")
                await app.wait_for_line("dictation: idle")

                d.xdotool("mousemove", "1268", "12", "click", "3")  # trayer's only icon
                await asyncio.sleep(1.0)
                crop(d, out / "tray-menu.png", "360x260+920+0")
                d.xdotool("key", "Escape")

                earlier_dictations(d)  # after the dictation: the tray offers no retry
                command = app_command("show-history")
                await asyncio.to_thread(subprocess.run, command, env=d.env, check=True)
                found = d.xdotool("search", "--sync", "--name", "^Kyutai Dictate: History$")
                window = found.split()[0]
                d.xdotool("windowmove", window, "100", "80")
                d.xdotool("mousemove", "300", "211", "click", "1")  # the dictation that failed
                await asyncio.sleep(1.0)  # let it paint
                d.screenshot(out / "history.png", window)

        settings_store.save(Settings(), d.config)  # nothing configured: first run
        async with running_app(d) as app:
            window = d.xdotool("search", "--sync", "--name", "^Set up Kyutai Dictate$").split()[0]
            await asyncio.sleep(1.0)  # let it paint
            d.screenshot(out / "settings.png", window)


def main() -> int:
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "docs/screenshots")
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as home:
        asyncio.run(take(out.resolve(), Path(home)))
    print(f"screenshots written to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
