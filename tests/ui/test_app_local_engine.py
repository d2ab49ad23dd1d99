"""``kyutai-dictate --local``: the app starts the engine on a tiny checkpoint and dictates
through it into a real window (Xvfb, PulseAudio virtual microphone, xdotool for the key)."""

from __future__ import annotations

import asyncio
import os
import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from app.core.settings import BackendKind, BackendSettings, Settings
from app.desktop import settings_store
from tests.support.desktop import (
    Desktop,
    app_command,
    desktop,
    hotkey_held,
    read_text,
    spawn,
    target_window,
    until,
)
from tests.support.speech import SENTENCES, speech, write_wav

pytest.importorskip("torch", reason="the engine needs torch (tests/run installs it)")
pytest.importorskip("moshi", reason="the engine needs moshi (tests/run installs it)")

WORD = re.compile(r"slot \d+ word '([^']*)'")


@pytest.fixture
def session(tmp_path: Path) -> AsyncIterator[Desktop]:
    with desktop(tmp_path / "home", 73) as d:
        yield d  # type: ignore[misc]


@pytest.fixture(scope="module")
def tiny_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tests.support.tiny_checkpoint import make_tiny_checkpoint

    return make_tiny_checkpoint(tmp_path_factory.mktemp("tiny-stt"))


@pytest.mark.parametrize("chosen_by", ["--local", "settings"])
async def test_the_local_engine_dictates_its_words_into_the_window(
    session: Desktop, tiny_checkpoint: Path, speech_dir: Path, tmp_path: Path, chosen_by: str
) -> None:
    """``--local --checkpoint DIR`` for one run, or "This computer" in the settings file."""
    wav = tmp_path / "speech.wav"
    write_wav(wav, speech(SENTENCES[:1], speech_dir, gap_seconds=0.3))
    typed = tmp_path / "typed.txt"
    command = app_command("--config", str(session.config))
    if chosen_by == "--local":
        settings_store.save(Settings(), session.config)  # no backend: --local brings its own
        command += ["--local", "--checkpoint", str(tiny_checkpoint)]
    else:
        backend = BackendSettings(BackendKind.ENGINE, checkpoint=str(tiny_checkpoint))
        settings_store.save(Settings(backend), session.config)
    env = {**session.env, "OMP_NUM_THREADS": "1", "NO_TORCH_COMPILE": "1"}
    async with target_window(session.env, typed), spawn(command, env) as app:
        await app.wait_for_line("listening for the hotkey")
        # no GPU here, and the measured speed is reported
        assert "local engine on the CPU (no GPU found): real-time factor" in app.output
        assert not os.environ.get("KYUTAI_DICTATE_MOSHI_API_KEY")  # the key stays in the app
        async with hotkey_held(session, app):
            await asyncio.to_thread(session.mic.play, wav)
        await app.wait_for_line("dictation: idle")
        sent = [m.group(1) for line in app.lines if (m := WORD.search(line))]
        expected = " ".join(" ".join(sent).split())
        await until(lambda: read_text(typed) == expected, message=app.output)
    assert sent, app.output  # the engine said words, and the window has exactly those
