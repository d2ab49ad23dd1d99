"""Voice commands through the dictation driver and a real ``/v1/stream`` server on loopback:
the held word is released by the driver's timer while the key is still held, and commands
reach ``on_edit`` in order with the words."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from app.backend.connect import open_v1_stream
from app.backend.stream import Stream
from app.core.endpoint import Endpoint
from app.core.session import DictationSession, Phase
from app.core.voice_edits import Edit, Key, PressEdit, TypeEdit, VoiceEditConfig, apply_edits
from app.desktop.dictation import Dictation, WindowEdit
from server.protocol.audio import FRAME_SAMPLES
from tests.support.desktop import until
from tests.support.scripted_stream import scripted_stream

FRAME = b"\x00" * (FRAME_SAMPLES * 4)


def dictation_to(url: str, edits: list[Edit], idle: asyncio.Event) -> Dictation:
    @asynccontextmanager
    async def open_stream() -> AsyncIterator[Stream]:
        async with open_v1_stream(Endpoint(url), open_timeout=5) as stream:
            yield stream

    def on_edit(edit: WindowEdit) -> None:
        edits.append(edit)

    def on_phase(phase: Phase) -> None:
        if phase is Phase.IDLE:
            idle.set()

    return Dictation(
        open_stream,
        lambda text: edits.append(TypeEdit(text)),
        on_phase=on_phase,
        on_edit=on_edit,
        session=DictationSession(voice=VoiceEditConfig()),
    )


async def test_a_held_word_is_typed_after_a_pause_while_the_key_is_held() -> None:
    edits: list[Edit] = []
    idle = asyncio.Event()
    async with scripted_stream([" hello", " new"], frames_per_word=1, starts=[0.0, 0.5]) as script:
        dictation = dictation_to(script.url, edits, idle)
        dictation.start()
        dictation.audio(FRAME + FRAME)  # both words are said at once
        await until(lambda: len(script.sent_at) == 2)
        # "new" may begin "new line": held, then released once no word comes for a pause.
        await until(lambda: TypeEdit(" new") in edits)
        assert dictation.phase is Phase.STREAMING  # still held: the timer released it
        dictation.stop()
        await asyncio.wait_for(idle.wait(), 10)
    assert edits == [TypeEdit("hello"), TypeEdit(" new")]


async def test_a_command_reaches_on_edit_between_the_words() -> None:
    edits: list[Edit] = []
    idle = asyncio.Event()
    words = [" hello", " new", " line", " world"]
    async with scripted_stream(words, frames_per_word=1, starts=[0.0, 1.0, 1.2, 2.0]) as script:
        dictation = dictation_to(script.url, edits, idle)
        dictation.start()
        for _ in words:
            dictation.audio(FRAME)
        dictation.stop()
        await asyncio.wait_for(idle.wait(), 10)
    assert PressEdit(Key.RETURN, "⏎ new line") in edits
    assert apply_edits("", edits) == "hello\nworld"
