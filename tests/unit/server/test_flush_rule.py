"""The flush's rule for the silence after its Marker (server.protocol.backend_rules)."""

from __future__ import annotations

from server.models import STT_1B, STT_2_6B
from server.protocol.backend_rules import FLUSH_LEAD_FRAMES, flush_silence_frames


def test_with_steps_the_silence_stays_a_few_frames_ahead_of_them() -> None:
    # Right after the marker the silence sent before it is still queued: nothing more yet.
    assert flush_silence_frames(STT_1B, sent_after_marker=0, backlog_frames=9) == 0
    assert flush_silence_frames(STT_1B, 0, FLUSH_LEAD_FRAMES) == 0
    # Each Step frees a place; an emptied queue is refilled at once, without pacing.
    assert flush_silence_frames(STT_1B, 3, FLUSH_LEAD_FRAMES - 1) == 1
    assert flush_silence_frames(STT_1B, 40, 0) == FLUSH_LEAD_FRAMES


def test_without_steps_the_frames_the_marker_needs_go_at_once_then_none() -> None:
    # stt-2.6b-en sends no Step: the backlog is unknown, so the rule ignores it.
    assert flush_silence_frames(STT_2_6B, 0, backlog_frames=0) == STT_2_6B.flush_frames
    assert flush_silence_frames(STT_2_6B, 0, backlog_frames=500) == STT_2_6B.flush_frames
    assert flush_silence_frames(STT_2_6B, 30, 0) == STT_2_6B.flush_frames - 30
    assert flush_silence_frames(STT_2_6B, STT_2_6B.flush_frames, 0) == 0
    assert flush_silence_frames(STT_2_6B, STT_2_6B.flush_frames + 5, 0) == 0


def test_the_lead_is_a_few_frames() -> None:
    assert 2 <= FLUSH_LEAD_FRAMES <= STT_1B.flush_frames
