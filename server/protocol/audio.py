"""PCM audio as every wire carries it: 24 kHz mono float32, 1920-sample (80 ms) frames."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from server.protocol.errors import ErrorCode, ProtocolError

SAMPLE_RATE = 24_000
FRAME_SAMPLES = 1920
FRAME_SECONDS = FRAME_SAMPLES / SAMPLE_RATE
BYTES_PER_SAMPLE = 4

Samples = npt.NDArray[np.float32]


def pcm_from_bytes(data: bytes) -> Samples:
    """Read float32 little-endian PCM. A length that is not a multiple of 4 is ``bad_audio``."""
    if len(data) % BYTES_PER_SAMPLE:
        raise ProtocolError(
            f"audio message of {len(data)} bytes is not a whole number of float32 samples",
            ErrorCode.BAD_AUDIO,
        )
    return np.frombuffer(data, dtype="<f4")


def sanitize(samples: npt.NDArray[np.floating]) -> Samples:
    """Return a float32 copy with non-finite samples set to 0 and the rest clipped to [-1, 1]."""
    samples = np.asarray(samples, dtype=np.float32)
    # One BLAS pass: the dot product is finite unless a sample is NaN, infinite or huge.
    with np.errstate(over="ignore", invalid="ignore"):
        finite = np.isfinite(np.dot(samples, samples))
    if finite:
        out: Samples = np.clip(samples, -1.0, 1.0)
        return out
    out = np.nan_to_num(samples, nan=0.0, posinf=0.0, neginf=0.0)
    np.clip(out, -1.0, 1.0, out=out)
    return out


def silence(frames: int) -> Samples:
    """``frames`` frames of digital silence."""
    return np.zeros(frames * FRAME_SAMPLES, dtype=np.float32)


class Reframer:
    """Cuts a stream of sample chunks of any length into whole 1920-sample frames."""

    def __init__(self) -> None:
        self._pending: Samples = np.zeros(0, dtype=np.float32)

    def push(self, samples: Samples) -> list[Samples]:
        """Add samples; return every frame that is now complete (possibly none)."""
        if len(self._pending):
            samples = np.concatenate((self._pending, samples))
        whole = len(samples) - len(samples) % FRAME_SAMPLES
        self._pending = samples[whole:]
        return [samples[start : start + FRAME_SAMPLES] for start in range(0, whole, FRAME_SAMPLES)]

    def flush(self) -> Samples | None:
        """The partial frame padded with zeros, or None if nothing is pending."""
        if not len(self._pending):
            return None
        frame = np.zeros(FRAME_SAMPLES, dtype=np.float32)
        frame[: len(self._pending)] = self._pending
        self._pending = np.zeros(0, dtype=np.float32)
        return frame
