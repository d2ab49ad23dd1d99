"""Synthesise the sound cues into this folder: ``uv run python resources/sounds/generate.py``.

Short sine tones with soft edges, 24 kHz mono 16-bit WAV: start rises, stop falls, error is
two low beeps. Made here, so they are this project's own (MIT, as the rest).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile

RATE = 24_000
HERE = Path(__file__).resolve().parent


def tone(frequency: float, seconds: float, level: float = 0.5) -> np.ndarray:
    t = np.arange(int(RATE * seconds)) / RATE
    wave = level * np.sin(2 * np.pi * frequency * t)
    fade = min(len(t) // 4, int(RATE * 0.01))  # 10 ms edges: no clicks
    envelope = np.ones(len(t))
    envelope[:fade] = np.linspace(0, 1, fade)
    envelope[-fade:] = np.linspace(1, 0, fade)
    return wave * envelope


def silence(seconds: float) -> np.ndarray:
    return np.zeros(int(RATE * seconds))


CUES = {
    "start": [tone(660, 0.07), tone(990, 0.09)],
    "stop": [tone(990, 0.07), tone(660, 0.09)],
    "error": [tone(330, 0.12), silence(0.05), tone(330, 0.12)],
}


def main() -> None:
    for name, parts in CUES.items():
        samples = np.concatenate(parts).astype(np.float32)
        soundfile.write(HERE / f"{name}.wav", samples, RATE, subtype="PCM_16")
        print(f"{name}.wav: {len(samples) / RATE:.2f} s")


if __name__ == "__main__":
    main()
