"""A screenshot of the app on Wayland for the README, taken with grim under headless sway.

    uv run python -m tests.support.wayland_screenshot docs/screenshots/wayland-sway.png

Installs the sway bindings (``kyutai-dictate shortcut --install``), dictates a sentence with
push-to-talk (F9 held through sway's binding) into a native Wayland window, and captures the
screen while the caption overlay and swaybar's tray icon show.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import tempfile
from pathlib import Path

from tests.support.desktop import target_window, text_in
from tests.support.scripted_stream import scripted_stream
from tests.support.sway import sway_desktop
from tests.wayland.test_sway_dictation import install_shortcut, wayland_app

TEXT = "On Wayland too: Größe, “quoted” café… €5, typed where you work."


async def take(out: Path, home: Path) -> None:
    words = [f" {word}" for word in TEXT.split()]
    with sway_desktop(home / "home") as d:
        install_shortcut(d)
        async with scripted_stream(words, frames_per_word=4) as script:
            d.use_backend(script.url)
            typed = home / "typed.txt"
            async with target_window(d.env, typed, "Notes"), wayland_app(d):
                press = ["-s", "30", "-P", "F9", "-s", "6000", "-p", "F9"]
                held = asyncio.create_task(asyncio.to_thread(d.wtype, *press))
                await text_in(typed, TEXT, timeout=20)
                d.screenshot(out)
                await held


def main() -> int:
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "docs/screenshots/wayland-sway.png")
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as home:
        asyncio.run(take(out.resolve(), Path(home)))
    subprocess.run(["file", str(out)], check=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
