"""Collects each dictation for the history as it runs: its audio, its words and its outcome.

:class:`~app.desktop.dictation.Dictation` reports to it; when a dictation ends, the finished
record goes to ``on_finished`` (the app stores it off the loop). Two dictations can be open at
once: the next one captures while the last one's words still come, so audio goes to the
newest record and words and outcomes to the oldest. Each record has a number, so that news
about it that comes later (its words were held back while typing) finds the right one.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from app.core.history import Outcome
from app.core.voice_edits import Edit, apply_edits
from app.desktop.history_store import NewDictation


@dataclass
class Record:
    number: int  # counts the dictations of this run of the app
    started: float
    backend: str
    window: str = ""  # set once looked up (the app does it off the loop)
    audio: list[bytes] = field(default_factory=list)
    words: list[str] = field(default_factory=list)
    outcome: Outcome = Outcome.TYPED


class HistoryRecorder:
    def __init__(
        self,
        on_finished: Callable[[int, NewDictation], None],
        backend: Callable[[], str] = lambda: "",
        keep_audio: Callable[[], bool] = lambda: True,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._on_finished = on_finished
        self._backend = backend
        self._keep_audio = keep_audio
        self._clock = clock
        self._open: list[Record] = []  # oldest first
        self._numbers = itertools.count(1)

    @property
    def newest(self) -> Record | None:
        return self._open[-1] if self._open else None

    @property
    def newest_number(self) -> int | None:
        return self._open[-1].number if self._open else None

    def begin(self) -> Record:
        """A dictation starts capturing."""
        record = Record(next(self._numbers), self._clock(), self._backend())
        self._open.append(record)
        return record

    def audio(self, pcm: bytes) -> None:
        if self._open and self._keep_audio():
            self._open[-1].audio.append(pcm)

    def text(self, text: str) -> None:
        if self._open:
            self._open[0].words.append(text)

    def edit(self, edit: Edit) -> None:
        """A voice command: the text kept is what the window shows ("scratch that" removes,
        "new line" adds a line break)."""
        if self._open:
            record = self._open[0]
            record.words = [apply_edits("".join(record.words), [edit])]

    def ended_as(self, outcome: Outcome) -> None:
        """The oldest open dictation failed, was cancelled or had words held back."""
        if self._open and self._open[0].outcome is Outcome.TYPED:
            self._open[0].outcome = outcome

    def held(self, number: int) -> bool:
        """Dictation ``number`` had words held back; False if it is no longer open."""
        for record in self._open:
            if record.number == number:
                if record.outcome is Outcome.TYPED:
                    record.outcome = Outcome.HELD
                return True
        return False

    def finished(self) -> None:
        """The oldest open dictation is over: hand it on, with its number."""
        if self._open:
            record = self._open.pop(0)
            self._on_finished(record.number, self._made(record))

    def abandon(self, outcome: Outcome) -> list[NewDictation]:
        """Every open dictation, as ended with ``outcome`` (the app is quitting)."""
        for record in self._open:
            record.outcome = outcome
        done, self._open = [self._made(record) for record in self._open], []
        return done

    def _made(self, record: Record) -> NewDictation:
        audio = b"".join(record.audio) if self._keep_audio() else None
        return NewDictation(
            record.started,
            record.backend,
            record.window,
            record.outcome,
            "".join(record.words),
            audio or None,
        )
