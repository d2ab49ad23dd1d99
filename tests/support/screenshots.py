"""Screenshots of the real app for the README, taken under Xvfb.

    uv run python -m tests.support.screenshots docs/screenshots

Runs the app in a test desktop (tests/support/desktop.py) against a scripted backend,
dictates into a window, opens the tray menu and the first-run settings dialog, and writes
``overlay.png``, ``tray-menu.png`` and ``settings.png``.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import tempfile
from pathlib import Path

from app.core.settings import BackendKind, BackendSettings, OverlaySettings, Settings
from app.desktop import settings_store
from tests.support.desktop import (
    Desktop,
    desktop,
    running_app,
    target_window,
    text_in,
)
from tests.support.scripted_stream import scripted_stream

TEXT = "Dictation that keeps up with you: every word, typed where you work."


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
