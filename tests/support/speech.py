"""Test speech: espeak-ng sentences converted by sox to 24 kHz mono WAV, read as float32."""

from __future__ import annotations

import hashlib
import subprocess
import wave
from pathlib import Path

import numpy as np

from server.protocol.audio import SAMPLE_RATE

# Chosen because PocketSphinx recognises them exactly whatever the gain, offset and
# quantisation (checked with each spoken twice, at full and half gain, shifted by a few
# hundred samples); "hello world this is a dictation test" lost its last word in all of them.
SENTENCES = [
    "the quick brown fox jumps over the lazy dog",
    "my voice becomes text in the window",
    "please type every word of this sentence",
]


def synthesize(text: str, directory: Path, gap_seconds: float = 0.0) -> Path:
    """WAV of ``text`` spoken by espeak-ng (cached by content); ``gap_seconds`` of silence after."""
    name = hashlib.sha1(f"{text}|{gap_seconds}".encode()).hexdigest()[:12]
    out = directory / f"{name}.wav"
    if out.exists():
        return out
    raw = directory / f"{name}.raw.wav"
    subprocess.run(["espeak-ng", "-v", "en-us", "-s", "150", "-w", str(raw), text], check=True)
    effects = ["pad", "0", str(gap_seconds)] if gap_seconds else []
    sox = ["sox", str(raw), "-r", str(SAMPLE_RATE), "-c", "1", "-b", "16", str(out), *effects]
    subprocess.run(sox, check=True)
    raw.unlink()
    return out


def read_wav(path: Path) -> np.ndarray:
    """Samples of a 16-bit mono WAV as float32 in [-1, 1]."""
    with wave.open(str(path)) as w:
        if (w.getframerate(), w.getnchannels()) != (SAMPLE_RATE, 1):
            raise ValueError(f"{path} is not 24 kHz mono")
        data = w.readframes(w.getnframes())
    return np.frombuffer(data, dtype="<i2").astype(np.float32) / 32768


def write_wav(path: Path, audio: np.ndarray) -> Path:
    """Write float samples as a 16-bit mono 24 kHz WAV; returns ``path``."""
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(SAMPLE_RATE)
        w.writeframes((np.clip(audio, -1, 1) * 32767).astype("<i2").tobytes())
    return path


def speech(sentences: list[str], directory: Path, gap_seconds: float = 1.5) -> np.ndarray:
    """The sentences spoken one after another, each followed by ``gap_seconds`` of silence."""
    parts = [read_wav(synthesize(s, directory, gap_seconds)) for s in sentences]
    return np.concatenate(parts)
