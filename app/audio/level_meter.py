"""The microphone level shown in the settings dialog: a small capture of its own (no Qt).

PortAudio's callback only keeps the loudest sample seen in a plain attribute; the dialog's
timer takes it (:meth:`LevelMeter.take_peak`) about 15 times a second. The stream is opened with
the settings dictation uses (24 kHz mono float32), so a device that fails here would fail to
dictate too.
"""

from __future__ import annotations

import math
from types import ModuleType
from typing import Any, Protocol

import numpy as np

from app.audio.microphone import MicrophoneError, start_input_stream

BLOCK_SAMPLES = 480  # 20 ms: the bar follows the voice closely
FLOOR_DB = -60.0  # the empty bar


class LevelSource(Protocol):
    """What the dialog needs of a level meter (tests pass a fake)."""

    def open(self, device: int | None) -> None: ...

    def close(self) -> None: ...

    def take_peak(self) -> float: ...


class LevelMeter:
    """Captures from one input device while open, keeping only the peak level."""

    def __init__(self, sounddevice: ModuleType | None = None) -> None:
        self._sd = sounddevice
        self._stream: Any = None
        self._peak = 0.0

    @property
    def is_open(self) -> bool:
        return self._stream is not None

    def open(self, device: int | None) -> None:
        """Start capturing from ``device`` (None: the default input), closing any previous
        stream. Raises :class:`MicrophoneError` saying why the device cannot be opened."""
        self.close()
        self._peak = 0.0
        try:
            stream = start_input_stream(
                device, self._callback, blocksize=BLOCK_SAMPLES, sd=self._sd
            )
        except MicrophoneError as exc:
            raise MicrophoneError(f"cannot open this microphone: {exc}") from None
        self._stream = stream

    def close(self) -> None:
        """Stop capturing (blocks until PortAudio's last callback is done). Idempotent."""
        stream, self._stream = self._stream, None
        if stream is not None:
            stream.close()
        self._peak = 0.0

    def take_peak(self) -> float:
        """The loudest absolute sample since the last call (0..1), then reset."""
        peak, self._peak = self._peak, 0.0
        return peak

    def _callback(self, indata: np.ndarray[Any, Any], frames: int, time: Any, status: Any) -> None:
        # PortAudio's thread: one float store; a race with take_peak() only loses one block.
        if frames:
            self._peak = max(self._peak, float(np.abs(indata).max()))


def level_percent(peak: float) -> int:
    """``peak`` (0..1) on a 0-100 bar, in decibels from -60 dBFS (empty) to 0 dBFS (full)."""
    if peak <= 0:
        return 0
    db = 20 * math.log10(min(peak, 1.0))
    return max(0, min(100, round((db - FLOOR_DB) / -FLOOR_DB * 100)))
