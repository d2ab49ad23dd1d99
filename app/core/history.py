"""The dictation history's rules (pure): what an entry holds, what retention drops, and what
the tray says about dictations that were not transcribed.

Audio is kept for the newest ``audio_count`` dictations, no older than ``audio_days`` and no
more than ``audio_megabytes`` in all, whichever limit is reached first; text for
``text_days``. The store (:mod:`app.desktop.history_store`) applies :func:`prune`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from urllib.parse import urlsplit

from app.core.settings import BackendSettings, HistorySettings

DAY = 86_400.0


class Outcome(StrEnum):
    TYPED = "typed"  # every word reached the window (or the captions)
    HELD = "held"  # the focus guard held words back
    FAILED = "failed"  # the backend failed or was unreachable
    CANCELLED = "cancelled"  # given up before the backend was ready


NOT_TRANSCRIBED = (Outcome.FAILED, Outcome.CANCELLED)


@dataclass(frozen=True)
class HistoryEntry:
    """One stored dictation (its audio, if kept, stays in the store)."""

    id: int
    time: float  # seconds since the epoch, when it began
    backend: str
    window: str  # the target window's title, "" where the platform does not say
    outcome: Outcome
    text: str  # the words of the dictation as it ran
    retry_text: str | None = None  # the words of "transcribe again", once done
    audio_bytes: int = 0  # 0: no audio kept

    @property
    def has_audio(self) -> bool:
        return self.audio_bytes > 0

    @property
    def shown_text(self) -> str:
        """The best text there is: the transcription again, else the dictation's own."""
        return self.text if self.retry_text is None else self.retry_text

    @property
    def not_transcribed(self) -> bool:
        """Failed or cancelled, with its audio kept and not transcribed again yet."""
        return self.outcome in NOT_TRANSCRIBED and self.has_audio and self.retry_text is None


@dataclass(frozen=True)
class Retention:
    keep_audio: bool = True
    audio_count: int = 50
    audio_seconds: float = 7 * DAY
    audio_bytes: int = 500 * 1_000_000
    text_seconds: float = 90 * DAY

    @classmethod
    def of(cls, settings: HistorySettings) -> Retention:
        return cls(
            keep_audio=settings.keep_audio,
            audio_count=settings.audio_count,
            audio_seconds=settings.audio_days * DAY,
            audio_bytes=int(settings.audio_megabytes * 1_000_000),
            text_seconds=settings.text_days * DAY,
        )


@dataclass(frozen=True)
class Stored:
    """What retention needs to know of an entry."""

    id: int
    time: float
    audio_bytes: int


@dataclass(frozen=True)
class Pruning:
    delete: tuple[int, ...]  # entries past the text limit
    drop_audio: tuple[int, ...]  # entries that keep their text but lose their audio


def prune(entries: Sequence[Stored], now: float, retention: Retention) -> Pruning:
    """Which entries to delete and which lose their audio, at ``now``."""
    newest_first = sorted(entries, key=lambda e: (e.time, e.id), reverse=True)
    delete = [e.id for e in newest_first if now - e.time > retention.text_seconds]
    kept_count, kept_bytes, drop = 0, 0, []
    for entry in newest_first:
        if entry.id in delete or entry.audio_bytes == 0:
            continue
        fits = (
            retention.keep_audio
            and kept_count < retention.audio_count
            and now - entry.time <= retention.audio_seconds
            and kept_bytes + entry.audio_bytes <= retention.audio_bytes
        )
        if fits:
            kept_count += 1
            kept_bytes += entry.audio_bytes
        else:
            drop.append(entry.id)
    return Pruning(tuple(delete), tuple(drop))


def pending_offer(count: int) -> str:
    """What the tray offers after a dictation succeeds while others were not transcribed."""
    if count == 1:
        return "1 dictation was not transcribed. Transcribe now?"
    return f"{count} dictations were not transcribed. Transcribe now?"


AUDIO_KEPT = "its audio is kept: transcribe it again from History"
NO_AUDIO = "audio is not kept (History settings): it cannot be transcribed again"


def describe_backend(backend: BackendSettings) -> str:
    """The backend as the history names it: its kind and host (never a secret)."""
    if backend.kind is None:
        return "none"
    host = urlsplit(backend.stream_url()).hostname or ""
    return f"{backend.kind.value} {host}".strip()
