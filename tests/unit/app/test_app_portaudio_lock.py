"""PortAudio is re-initialised only once no cue is playing (terminating it under a playing
stream corrupted the heap: SIGABRT at quit)."""

from __future__ import annotations

import threading

import pytest

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
        with portaudio.quiet() as quiet:
            order.append("re-initialised" if quiet else "gave up")

    rescanner = threading.Thread(target=rescan)
    rescanner.start()
    rescanner.join(0.2)  # it must still be waiting: the cue has not closed
    assert order == []
    release.set()
    player.join(5)
    rescanner.join(5)
    assert order == ["cue closed", "re-initialised"]


def test_a_cue_that_never_closes_means_no_reinitialisation(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(portaudio, "PLAYBACK_WAIT", 0.05)
    with portaudio.output_open(), portaudio.quiet() as quiet:
        assert not quiet  # the caller must leave PortAudio alone
    with portaudio.quiet() as quiet:
        assert quiet
