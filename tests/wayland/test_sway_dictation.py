"""The desktop app as a native Wayland client under headless sway, for real: push-to-talk
through the sway bindings ``kyutai-dictate shortcut --install`` writes (pressed and released by
wtype), audio from the PulseAudio virtual microphone, words into a native Wayland Qt window."""

from __future__ import annotations

import asyncio
import subprocess
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from tests.conftest import DoubleFactory, ProxyFactory
from tests.support.desktop import Process, app_command, spawn, target_window, text_in, until
from tests.support.scripted_stream import scripted_stream
from tests.support.speech import SENTENCES, speech, write_wav
from tests.support.sway import WaylandDesktop

WORDS = [" Größe", " “quoted”", " café…", " 日本語", " €5"]
EXPECTED = "Größe “quoted” café… 日本語 €5"
OVERLAY = "kyutai-dictate captions"


def cli(d: WaylandDesktop, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        app_command(*args), env={**d.env, **env}, capture_output=True, text=True, check=False
    )


def install_shortcut(d: WaylandDesktop) -> str:
    """``kyutai-dictate shortcut --install`` for sway's configuration (the shim's path is the
    program on PATH, so the bindings reach the app through the relay)."""
    done = cli(d, "shortcut", "--install")
    assert done.returncode == 0, done.stderr
    return done.stdout


@asynccontextmanager
async def wayland_app(d: WaylandDesktop) -> AsyncIterator[Process]:
    async with spawn(app_command("--config", str(d.config)), d.env) as app:
        await app.wait_for_line("kyutai-dictate is running")
        yield app


def push_to_talk(d: WaylandDesktop, hold_ms: int) -> None:
    """F9 down, held, up: one wtype run (a second run would release the key when it ends)."""
    d.wtype("-s", "30", "-P", "F9", "-s", str(hold_ms), "-p", "F9")


def relayed(d: WaylandDesktop) -> str:
    assert d.relay is not None
    return "\n".join(f"{args}: {status} {out}" for args, status, out in d.relay.done)


async def test_push_to_talk_through_sway_bindings_types_exact_unicode(
    sway: WaylandDesktop, tmp_path: Path
) -> None:
    typed = tmp_path / "typed.txt"
    output = install_shortcut(sway)
    assert "reloaded sway" in output
    async with scripted_stream(WORDS, frames_per_word=2) as script:
        sway.use_backend(script.url)
        async with target_window(sway.env, typed), wayland_app(sway) as app:
            await asyncio.to_thread(push_to_talk, sway, 2500)
            text = await text_in(typed, EXPECTED)
            assert text == EXPECTED, f"{app.output}\n{relayed(sway)}"
            assert script.sessions == 1
            # The overlay showed the words and never took the focus.
            overlay = [w for w in sway.windows() if w.get("name") == OVERLAY]
            assert overlay, sway.windows()
            assert overlay[0]["app_id"] == "kyutai-dictate"
            assert overlay[0]["type"] == "floating_con"
            focused = sway.focused()
            assert focused is not None
            assert focused["name"] == "typing target"
            shot = tmp_path / "wayland.png"
            sway.screenshot(shot)
            assert shot.read_bytes().startswith(b"\x89PNG")
            # The words came while the key was held; its release stopped the dictation.
            await app.wait_for_line("dictation: idle")
            assert sway.relay is not None
            await until(lambda: len(sway.relay.done) == 2, message=relayed(sway))  # type: ignore[union-attr]
            assert [(args, status) for args, status, _ in sway.relay.done] == [
                ("start", 0),
                ("stop", 0),
            ]


async def test_speech_from_the_virtual_microphone_is_dictated_push_to_talk(
    sway: WaylandDesktop,
    moshi_double: DoubleFactory,
    proxy: ProxyFactory,
    speech_dir: Path,
    tmp_path: Path,
) -> None:
    wav = write_wav(tmp_path / "speech.wav", speech(SENTENCES[:1], speech_dir, gap_seconds=0.3))
    typed = tmp_path / "typed.txt"
    install_shortcut(sway)
    async with (
        moshi_double(step_seconds=0.08, warmup_seconds=0.5) as double,
        proxy(double.url) as server,
    ):
        sway.use_backend(server.url)
        async with target_window(sway.env, typed), wayland_app(sway) as app:
            held = asyncio.create_task(asyncio.to_thread(push_to_talk, sway, 7000))
            await app.wait_for_line("capturing from")
            await asyncio.to_thread(sway.mic.play, wav)
            await held
            text = await text_in(typed, SENTENCES[0])
            assert text == SENTENCES[0], f"{app.output}\n{relayed(sway)}"


async def test_tray_icon_registers_with_swaybar(sway: WaylandDesktop) -> None:
    async with scripted_stream(WORDS) as script:
        sway.use_backend(script.url)
        assert sway.tray_items() == []
        async with wayland_app(sway) as app:
            await until(lambda: len(sway.tray_items()) == 1, message=app.output)
            assert not any("no system tray" in line for line in app.lines)
