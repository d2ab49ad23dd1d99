"""PortAudio is re-initialised only once no cue is playing (terminating it under a playing
stream corrupted the heap: SIGABRT at quit)."""

from __future__ import annotations

import threading

from app.audio import portaudio


def test_a_reinitialisation_waits_for_the_cue_that_plays() -> None:
    playing, release = threading.Event(), threading.Event()
    order: list[str] = []

    def cue() -> None:
        with portaudio.output_open():
            playing.set()
            release.wait(5)
            order.append("cue closed")

    player = threading.Thread(target=cue)
    player.start()
    playing.wait(5)

    def rescan() -> None:
        with portaudio.quiet():
            order.append("re-initialised")

    rescanner = threading.Thread(target=rescan)
    rescanner.start()
    rescanner.join(0.2)  # it must still be waiting: the cue has not closed
    assert order == []
    release.set()
    player.join(5)
    rescanner.join(5)
    assert order == ["cue closed", "re-initialised"]
