"""`kyutai-dictate transcribe` from a microphone: PulseAudio virtual source -> PortAudio ->
the proxy -> the moshi-server double; Ctrl-C stops capture and the last words still come."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
from pathlib import Path

from tests.conftest import DoubleFactory, ProxyFactory
from tests.support.pulse import virtual_microphone
from tests.support.speech import SENTENCES, speech, write_wav

ROOT = Path(__file__).resolve().parents[2]


async def test_transcribe_from_the_microphone(
    moshi_double: DoubleFactory, proxy: ProxyFactory, speech_dir: Path, tmp_path: Path
) -> None:
    audio = speech(SENTENCES[:2], speech_dir, gap_seconds=1.5)
    wav = tmp_path / "speech.wav"
    write_wav(wav, audio)
    with virtual_microphone(tmp_path / "pulse") as mic:
        # The microphone runs in real time: so does the model.
        async with moshi_double(step_seconds=0.08) as double, proxy(double.url) as server:
            command = [sys.executable, "-m", "app", "--log-level", "info", "transcribe",
                       "--url", server.url]  # fmt: skip
            process = await asyncio.create_subprocess_exec(
                *command,
                cwd=ROOT,
                env=mic.env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
            )
            assert process.stderr is not None
            while b"backend is ready" not in await asyncio.wait_for(process.stderr.readline(), 30):
                pass
            await asyncio.to_thread(mic.play, wav)
            process.send_signal(signal.SIGINT)  # Ctrl-C: stop capture, drain, print the rest
            out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 0, err.decode()
    lines = [line.strip() for line in out.decode().splitlines() if line.strip()]
    assert lines == SENTENCES[:2]
