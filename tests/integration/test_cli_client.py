"""`kyutai-dictate transcribe` and `bench` as processes, against the proxy and the double."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

import numpy as np

from tests.conftest import DoubleFactory, ProxyFactory
from tests.support.original_proxy import original_proxy
from tests.support.speech import SENTENCES, write_wav

ROOT = Path(__file__).resolve().parents[2]


async def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "app", *args]
    return await asyncio.to_thread(
        subprocess.run, command, cwd=ROOT, capture_output=True, text=True, timeout=120, env=env
    )


async def test_transcribe_prints_words_live_and_a_line_per_utterance(
    moshi_double: DoubleFactory, proxy: ProxyFactory, two_sentences: np.ndarray, tmp_path: Path
) -> None:
    wav = write_wav(tmp_path / "speech.wav", two_sentences)
    async with moshi_double() as double, proxy(double.url) as server:
        done = await cli("transcribe", "--url", server.url, "--file", str(wav), "--rtf", "4")
    assert done.returncode == 0, done.stderr
    lines = [line.strip() for line in done.stdout.splitlines() if line.strip()]
    assert lines == SENTENCES[:2]


async def test_transcribe_reports_a_refused_token(
    moshi_double: DoubleFactory, proxy: ProxyFactory, two_sentences: np.ndarray, tmp_path: Path
) -> None:
    wav = write_wav(tmp_path / "speech.wav", two_sentences[:24000])
    tokens = frozenset({"right"})
    async with moshi_double() as double, proxy(double.url, tokens=tokens) as server:
        done = await cli("transcribe", "--url", server.url, "--token", "wrong", "--file", str(wav))
    assert done.returncode == 1
    assert "unauthorized" in done.stderr.lower() or "401" in done.stderr
    assert "wrong" not in done.stderr  # the token itself is never printed


async def test_bench_reports_latencies_as_json(
    moshi_double: DoubleFactory, proxy: ProxyFactory, speech_dir: Path, tmp_path: Path
) -> None:
    from tests.support.speech import speech

    wav = write_wav(tmp_path / "short.wav", speech([SENTENCES[0]], speech_dir, gap_seconds=0.5))
    async with moshi_double() as double, proxy(double.url) as server:
        args = ["bench", "--url", server.url, "--file", str(wav), "-p", "2", "--runs", "2"]
        done = await cli(*args, "--rtf", "4", "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    text = json.dumps(report)
    assert "first_token" in text
    assert "end" in text
    streams = report.get("streams") or report.get("per_stream") or []
    assert len(streams) == 4
    assert all(s.get("words") == len(SENTENCES[0].split()) for s in streams), streams


async def test_transcribe_a_file_through_the_original_service(
    moshi_double: DoubleFactory, speech_dir: Path, tmp_path: Path
) -> None:
    """Every word, spaced, and no error at the end, though that server sends words without a
    space, never says `end`, and closes on any text message."""
    from tests.support.speech import speech

    audio = speech(SENTENCES[:2], speech_dir, gap_seconds=0.3)
    wav = write_wav(tmp_path / "speech.wav", audio)
    async with moshi_double() as double, original_proxy(double.url) as service:
        done = await cli("transcribe", "--url", service.url, "--file", str(wav), "--rtf", "4")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == " ".join(SENTENCES[:2])
    assert service.text_messages == 0
    assert "closed" not in done.stderr, done.stderr
    assert "error" not in done.stderr.lower(), done.stderr
