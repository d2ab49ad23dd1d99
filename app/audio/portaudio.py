"""PortAudio from more than one thread: the loop opens and closes the microphone, the cue player
plays on its own thread, and Settings re-initialises the library to list new devices.

PortAudio's library-wide calls (open, close, terminate, initialise) are not safe to overlap,
and terminating it under a stream that is still playing corrupts the heap. So they run under
:data:`LOCK`, and a re-initialisation first waits for the cues playing to end.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

LOCK = threading.RLock()
_idle = threading.Condition(LOCK)
_playing = [0]  # output streams open now (a list: changed in place, under LOCK)
PLAYBACK_WAIT = 2.0  # seconds a re-initialisation waits for a cue (each is well under 1 s)


@contextmanager
def output_open() -> Iterator[None]:
    """While an output stream (a cue) is open: PortAudio is not re-initialised."""
    with LOCK:
        _playing[0] += 1
    try:
        yield
    finally:
        with LOCK:
            _playing[0] -= 1
            _idle.notify_all()


@contextmanager
def quiet() -> Iterator[bool]:
    """Hold :data:`LOCK` once no output stream is open; False if one still is after
    :data:`PLAYBACK_WAIT` (then PortAudio must not be re-initialised)."""
    with LOCK:
        yield _idle.wait_for(lambda: _playing[0] == 0, timeout=PLAYBACK_WAIT)
