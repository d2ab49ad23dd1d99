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

from app.audio import portaudio

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


CHUNK_SECONDS = 0.02  # a cue is written in pieces this long, so closing never waits long
CLOSE_TIMEOUT = 5.0


class CuePlayer:
    """Plays cues one after the other on its own thread; :meth:`play` returns at once.

    :meth:`close` stops a cue that is playing and waits until its stream is closed: PortAudio
    must not be torn down (at exit) under a stream that is still playing, which corrupts the
    heap (seen as ``malloc_consolidate(): unaligned fastbin chunk`` and SIGABRT at quit)."""

    def __init__(self) -> None:
        self._queue: queue.SimpleQueue[tuple[Cue, float] | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._closing = threading.Event()
        self._failed = False

    def play(self, cue: Cue, volume: float) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="sound-cues", daemon=True)
            self._thread.start()
        self._queue.put((cue, max(0.0, min(1.0, volume))))

    def close(self) -> None:
        if self._thread is not None:
            self._closing.set()
            self._queue.put(None)
            self._thread.join(timeout=CLOSE_TIMEOUT)
            if self._thread.is_alive():
                log.warning("a sound cue is still playing at quit")
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

    def _play(self, cue: Cue, volume: float) -> None:
        import sounddevice

        samples, rate = cue_samples(cue)
        frames = (samples * volume).reshape(-1, 1)
        chunk = max(1, int(rate * CHUNK_SECONDS))
        with portaudio.output_open():
            with portaudio.LOCK:  # opening, not starting: the loop may wait for this lock
                stream = sounddevice.OutputStream(samplerate=rate, channels=1, dtype="float32")
            stream.start()
            try:
                for start in range(0, len(frames), chunk):
                    if self._closing.is_set():
                        break
                    stream.write(frames[start : start + chunk])
            finally:
                with portaudio.LOCK:
                    stream.stop(ignore_errors=True)
                    stream.close(ignore_errors=True)
        log.debug("sound cue %s played", cue.value)
