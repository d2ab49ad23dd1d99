"""Short start, stop and error sounds, played through PortAudio on the output device.

Played on a worker thread of their own, so a cue never delays capture (the app opens the
microphone first) nor the loop. A device that cannot play is said once in the log; the
dictation goes on without sounds. The WAVs are made by ``resources/sounds/generate.py``.
"""

from __future__ import annotations

import logging
import queue
import threading
from enum import StrEnum
from functools import cache
from pathlib import Path

import numpy as np
import numpy.typing as npt

log = logging.getLogger(__name__)

_HERE = Path(__file__).resolve()
# A checkout has resources/ at the top; an installed wheel carries it inside the package.
_RESOURCES = (_HERE.parents[2] / "resources", _HERE.parents[1] / "resources")
SOUNDS = next((p for p in _RESOURCES if p.is_dir()), _RESOURCES[0]) / "sounds"


class Cue(StrEnum):
    START = "start"
    STOP = "stop"
    ERROR = "error"


@cache
def cue_samples(cue: Cue) -> tuple[npt.NDArray[np.float32], int]:
    """The cue's samples (mono float32) and their rate."""
    import soundfile

    samples, rate = soundfile.read(SOUNDS / f"{cue.value}.wav", dtype="float32", always_2d=False)
    return np.asarray(samples, dtype=np.float32), int(rate)


class CuePlayer:
    """Plays cues one after the other on its own thread; :meth:`play` returns at once."""

    def __init__(self) -> None:
        self._queue: queue.SimpleQueue[tuple[Cue, float] | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._failed = False

    def play(self, cue: Cue, volume: float) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="sound-cues", daemon=True)
            self._thread.start()
        self._queue.put((cue, max(0.0, min(1.0, volume))))

    def close(self) -> None:
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join(timeout=2)
            self._thread = None

    def _run(self) -> None:
        while (item := self._queue.get()) is not None:
            cue, volume = item
            try:
                self._play(cue, volume)
            except Exception as exc:  # no output device, PortAudio missing, a broken file
                if not self._failed:
                    self._failed = True
                    log.warning("cannot play sound cues: %s", exc)

    @staticmethod
    def _play(cue: Cue, volume: float) -> None:
        import sounddevice

        samples, rate = cue_samples(cue)
        with sounddevice.OutputStream(samplerate=rate, channels=1, dtype="float32") as stream:
            stream.write((samples * volume).reshape(-1, 1))
        log.debug("sound cue %s played", cue.value)
