"""Read an audio file (WAV, or anything libsndfile reads) as 24 kHz mono float32."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile

from app.audio.resample import resample
from app.core.errors import AppError
from server.protocol.audio import SAMPLE_RATE, Samples


class AudioFileError(AppError):
    """The file is missing, unreadable or holds no audio."""


def load_audio_file(path: str | Path) -> Samples:
    """Samples of ``path`` at 24 kHz, channels averaged to mono, as float32 in [-1, 1] scale.

    Raises :class:`AudioFileError` with a message fit for the user.
    """
    path = Path(path)
    if not path.is_file():
        raise AudioFileError(f"{path}: no such file")
    try:
        data, rate = soundfile.read(path, dtype="float32", always_2d=True)
    except (soundfile.SoundFileError, RuntimeError, OSError) as exc:
        raise AudioFileError(f"{path}: cannot read audio: {exc}") from None
    if not data.size:
        raise AudioFileError(f"{path}: the file holds no audio")
    mono = data.mean(axis=1, dtype=np.float64) if data.shape[1] > 1 else data[:, 0]
    return resample(mono, int(rate), SAMPLE_RATE)
