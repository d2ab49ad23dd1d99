"""The focus guard's probe on sway: the focused window, read over sway's IPC."""

from __future__ import annotations

import asyncio
from pathlib import Path

from app.desktop.focus import open_focus_probe
from tests.support.desktop import read_text, target_window, text_in, until
from tests.support.scripted_stream import scripted_stream
from tests.support.sway import WaylandDesktop
from tests.support.target_window import focused_target
from tests.wayland.test_sway_dictation import cli, install_shortcut, push_to_talk, wayland_app


def test_the_sway_probe_tells_the_focused_window(sway: WaylandDesktop, tmp_path: Path) -> None:
    probe = open_focus_probe(sway.env)
    assert probe is not None, "no focus probe on sway: the guard would be off"
    try:
        assert probe.focused_window() is None  # an empty workspace
        with focused_target(sway.env, tmp_path / "first.txt"):
            first = probe.focused_window()
            with focused_target(sway.env, tmp_path / "second.txt"):
                second = probe.focused_window()
                assert second is not None
                assert first is not None
                assert second != first
                sway.swaymsg(f"[con_id={first}]", "focus")
                assert probe.focused_window() == first
    finally:
        probe.close()


async def test_words_are_held_when_the_focus_moves_during_a_dictation(
    sway: WaylandDesktop, tmp_path: Path
) -> None:
    """The guard asks before each word: the focus moves between two words here (right after
    one arrived; the next is 0.64 s away), not while wtype is typing one."""
    words = [f" word{i}" for i in range(8)]
    full = "".join(words).lstrip()
    first, second = tmp_path / "first.txt", tmp_path / "second.txt"
    install_shortcut(sway)
    async with scripted_stream(words, frames_per_word=8) as script:
        sway.use_backend(script.url)
        async with (
            target_window(sway.env, second, "second window"),
            target_window(sway.env, first, "first window"),
            wayland_app(sway) as app,
        ):
            held = asyncio.create_task(asyncio.to_thread(push_to_talk, sway, 3000))
            two = "".join(words[:2]).lstrip()
            await until(lambda: read_text(first) == two, message=app.output)  # whole words
            sway.swaymsg('[title="^second window$"]', "focus")
            await app.wait_for_line("focus moved to another window")
            await held
            await app.wait_for_line("dictation: idle")
            before = read_text(first)
            assert full.startswith(before)
            assert len(before) < len(full)
            assert read_text(second) == ""

            sway.swaymsg('[title="^first window$"]', "focus")
            assert (await asyncio.to_thread(cli, sway, "type-held")).returncode == 0
            assert await text_in(first, full) == full
