"""What the dictation reports to the history: its audio, its words and its outcome, against a
real /v1/stream server on loopback (tests/support/scripted_stream.py)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import numpy as np

from app.backend.connect import open_v1_stream, stream_connector
from app.backend.stream import Stream
from app.backend.transcribe_audio import transcribe_samples
from app.core.endpoint import Endpoint
from app.core.history import Outcome
from app.core.session import DictationSession, Phase
from app.core.settings import BackendKind, BackendSettings
from app.core.voice_edits import VoiceEditConfig
from app.desktop.dictation import Dictation
from app.desktop.history_recorder import HistoryRecorder
from app.desktop.history_store import NewDictation
from server.protocol.audio import FRAME_SAMPLES
from tests.support.desktop import until
from tests.support.scripted_stream import scripted_stream

WORDS = [f" w{i}" for i in range(40)]


def keep_in(stored: list[NewDictation]) -> Callable[[int, NewDictation], None]:
    return lambda _number, new: stored.append(new)


def frame(i: int) -> bytes:
    return np.full(FRAME_SAMPLES, i / 1000, dtype="<f4").tobytes()


async def test_a_failed_dictation_is_recorded_with_its_audio_and_transcribed_again() -> None:
    stored: list[NewDictation] = []
    phases: list[Phase] = []
    async with scripted_stream(WORDS, frames_per_word=2) as script:

        @asynccontextmanager
        async def open_stream() -> AsyncIterator[Stream]:
            async with open_v1_stream(Endpoint(script.url), open_timeout=5) as stream:
                yield stream

        typed: list[str] = []
        dictation = Dictation(
            open_stream,
            typed.append,
            on_phase=phases.append,
            recorder=HistoryRecorder(keep_in(stored), backend=lambda: "proxy 127.0.0.1"),
        )
        dictation.start()
        sent = 0
        while len(typed) < 3:
            dictation.audio(frame(sent))
            sent += 1
            await asyncio.sleep(0.01)
        script.crash_sessions()
        await until(lambda: phases[-1:] == [Phase.IDLE])
        dictation.audio(frame(999))  # after the end: not part of it
        assert len(stored) == 1
        record = stored[0]
        assert record.outcome is Outcome.FAILED
        assert record.backend == "proxy 127.0.0.1"
        assert record.text == "".join(typed).lstrip() == "w0 w1 w2"[: len(record.text)]
        assert record.audio == b"".join(frame(i) for i in range(sent))

        # Transcribed again: the whole audio once, every word, nothing typed.
        samples = np.frombuffer(record.audio, dtype="<f4")
        backend = BackendSettings(BackendKind.PROXY, url=script.url)
        text = await transcribe_samples(stream_connector(backend), Endpoint(script.url), samples)
        assert text == "".join(WORDS).lstrip()
        assert len(typed) == 3


async def test_a_cancelled_dictation_and_one_that_succeeds_are_recorded_as_such() -> None:
    stored: list[NewDictation] = []
    phases: list[Phase] = []

    @asynccontextmanager
    async def never_ready() -> AsyncIterator[Stream]:
        await asyncio.Event().wait()
        yield  # type: ignore[misc]

    dictation = Dictation(
        never_ready,
        lambda text: None,
        on_phase=phases.append,
        recorder=HistoryRecorder(keep_in(stored)),
    )
    dictation.start()
    dictation.audio(frame(1))
    dictation.stop()
    assert dictation.session.waiting_after_release
    dictation.cancel()
    await until(lambda: phases[-1:] == [Phase.IDLE])
    assert [(s.outcome, s.audio) for s in stored] == [(Outcome.CANCELLED, frame(1))]

    async with scripted_stream(WORDS[:2], frames_per_word=1) as script:

        @asynccontextmanager
        async def open_stream() -> AsyncIterator[Stream]:
            async with open_v1_stream(Endpoint(script.url), open_timeout=5) as stream:
                yield stream

        keep = [True]
        recorder = HistoryRecorder(keep_in(stored), keep_audio=lambda: keep[0])
        dictation = Dictation(
            open_stream, lambda text: None, on_phase=phases.append, recorder=recorder
        )
        keep[0] = False  # audio off: none is kept
        dictation.start()
        dictation.audio(frame(2))
        dictation.stop()
        await until(lambda: len(stored) == 2)
        assert (stored[1].outcome, stored[1].text, stored[1].audio) == (
            Outcome.TYPED,
            "w0 w1",
            None,
        )


async def test_the_history_keeps_the_text_as_voice_commands_left_it() -> None:
    """ "scratch that" removes the scratched words from the stored text, "new line" adds its
    line break: the history holds what the window shows."""
    stored: list[NewDictation] = []
    idle = asyncio.Event()
    words = [" first.", " oops", " scratch", " that", " new", " line", " end"]
    starts = [0.0, 0.3, 1.2, 1.4, 2.2, 2.4, 3.2]
    async with scripted_stream(words, frames_per_word=1, starts=starts) as script:

        @asynccontextmanager
        async def open_stream() -> AsyncIterator[Stream]:
            async with open_v1_stream(Endpoint(script.url), open_timeout=5) as stream:
                yield stream

        dictation = Dictation(
            open_stream,
            lambda text: None,
            on_phase=lambda phase: idle.set() if phase is Phase.IDLE else None,
            on_edit=lambda edit: None,
            session=DictationSession(voice=VoiceEditConfig()),
            recorder=HistoryRecorder(keep_in(stored)),
        )
        dictation.start()
        for i in range(len(words)):
            dictation.audio(frame(i))
        dictation.stop()
        await asyncio.wait_for(idle.wait(), 10)
    assert [record.text for record in stored] == ["first.\nend"]
