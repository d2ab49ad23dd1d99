"""The history's retention rules and what the tray offers (pure)."""

from __future__ import annotations

from app.core.history import (
    DAY,
    HistoryEntry,
    Outcome,
    Retention,
    Stored,
    pending_offer,
    prune,
)
from app.core.settings import HistorySettings

NOW = 1_000 * DAY


def test_audio_is_kept_for_the_newest_dictations_only() -> None:
    entries = [Stored(i, NOW - i, 10) for i in range(1, 6)]  # id 1 is the newest
    pruning = prune(entries, NOW, Retention(audio_count=3))
    assert pruning.drop_audio == (4, 5)
    assert pruning.delete == ()


def test_audio_older_than_its_limit_is_dropped_and_text_older_than_its_limit_deleted() -> None:
    retention = Retention(audio_seconds=7 * DAY, text_seconds=90 * DAY)
    entries = [
        Stored(1, NOW - 6 * DAY, 10),
        Stored(2, NOW - 8 * DAY, 10),
        Stored(3, NOW - 91 * DAY, 10),
        Stored(4, NOW - 91 * DAY, 0),
    ]
    pruning = prune(entries, NOW, retention)
    assert pruning.drop_audio == (2,)
    assert set(pruning.delete) == {3, 4}


def test_audio_beyond_the_size_limit_is_dropped_from_the_oldest() -> None:
    entries = [Stored(1, NOW - 1, 40), Stored(2, NOW - 2, 40), Stored(3, NOW - 3, 40)]
    assert prune(entries, NOW, Retention(audio_bytes=100)).drop_audio == (3,)
    # A single recording over the limit is not kept either.
    assert prune([Stored(1, NOW, 200)], NOW, Retention(audio_bytes=100)).drop_audio == (1,)


def test_audio_off_keeps_no_audio() -> None:
    entries = [Stored(1, NOW, 10), Stored(2, NOW, 0)]
    assert prune(entries, NOW, Retention(keep_audio=False)).drop_audio == (1,)


def test_retention_follows_the_settings() -> None:
    settings = HistorySettings(
        keep_audio=True, audio_count=5, audio_days=2, audio_megabytes=1.5, text_days=30
    )
    assert Retention.of(settings) == Retention(True, 5, 2 * DAY, 1_500_000, 30 * DAY)
    assert Retention.of(HistorySettings()) == Retention()


def test_only_failed_or_cancelled_dictations_with_audio_wait_to_be_transcribed() -> None:
    failed = HistoryEntry(1, NOW, "proxy", "", Outcome.FAILED, "w0", audio_bytes=4)
    assert failed.not_transcribed
    assert not HistoryEntry(1, NOW, "", "", Outcome.FAILED, "", audio_bytes=0).not_transcribed
    assert not HistoryEntry(1, NOW, "", "", Outcome.TYPED, "", audio_bytes=4).not_transcribed
    done = HistoryEntry(1, NOW, "", "", Outcome.CANCELLED, "", "all of it", 4)
    assert not done.not_transcribed
    assert done.shown_text == "all of it"
    assert failed.shown_text == "w0"


def test_the_offer_counts_the_dictations() -> None:
    assert pending_offer(3) == "3 dictations were not transcribed. Transcribe now?"
    assert pending_offer(1) == "1 dictation was not transcribed. Transcribe now?"
