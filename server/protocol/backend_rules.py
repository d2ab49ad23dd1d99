"""How a client of moshi-server talks to it (PROTOCOL.md section 3), as pure functions.

Shared by the proxy (:mod:`server.proxy.relay`) and the app when it talks to a moshi-server
directly (:mod:`app.backend.moshi_client`), so both start, map words and flush the same way.
The pause-based end-of-speech rule is :class:`server.protocol.vad.VadTracker`.
"""

from __future__ import annotations

import numpy as np

from server.models import ModelProfile
from server.protocol import moshi, stream
from server.protocol.audio import FRAME_SECONDS, SAMPLE_RATE, Reframer, Samples, silence
from server.protocol.errors import ErrorCode

SILENT_FRAME = moshi.encode_audio(silence(1))  # the silence a flush sends after its Marker
FLUSH_GRACE = 10.0  # seconds a flush waits past the expected end while the backend is silent
FLUSH_LEAD_FRAMES = 8  # unprocessed frames a flush keeps queued after its Marker (with Steps)


def silence_prefix(model: ModelProfile) -> Samples:
    """The silence sent before a stream's first audio (1 s for stt-2.6b-en, none for 1B)."""
    return np.zeros(round(model.silence_prefix_seconds * SAMPLE_RATE), np.float32)


def to_token(word: moshi.Word, model: ModelProfile) -> stream.Token:
    """A backend ``Word`` as a client ``token``: leading space, start time in the caller's
    audio (the silence prefix taken off)."""
    return stream.Token(" " + word.text, max(0.0, word.start_time - model.silence_prefix_seconds))


def flush_audio(reframer: Reframer, model: ModelProfile) -> list[Samples]:
    """The frames that start a flush: the partial frame padded with zeros, then enough silence
    to cover the model delay. Send them at once, then the flush ``Marker``."""
    frames = [silence(1)] * model.flush_frames
    partial = reframer.flush()
    return [partial, *frames] if partial is not None else frames


def flush_silence_frames(model: ModelProfile, sent_after_marker: int, backlog_frames: int) -> int:
    """How many silent frames a flush may send now, at once, after its ``Marker``.

    moshi-server takes the marker once all audio sent before it is taken, and echoes it
    ``delay_frames`` batch steps later; the batch steps only with audio, so a stream flushing
    alone feeds those steps itself (kyutai-labs/moshi ``rust/moshi-server/src/batched_asr.rs``).
    The words are already out: the sooner the steps run, the sooner the slot is free, so no
    real-time pacing, as Kyutai's own file client (kyutai-labs/delayed-streams-modeling
    ``scripts/stt_from_file_rust_server.py``) sends its trailing silence. With ``Step`` messages
    (stt-1b-en_fr) stay at most :data:`FLUSH_LEAD_FRAMES` ahead of them (``backlog_frames`` =
    frames sent - Steps received). Without (stt-2.6b-en) the backlog is unknown: send the frames
    the marker needs (``flush_frames``) at once, then none (moshi-server queues whatever it
    receives, so WebSocket flow control would not bound more). As a fallback, a flush past its
    expected end that hears nothing for a frame time sends one frame, as real-time pacing would.
    """
    if model.has_vad:
        return max(0, FLUSH_LEAD_FRAMES - backlog_frames)
    return max(0, model.flush_frames - sent_after_marker)


def backlog_seconds(
    model: ModelProfile, frames_sent: int, steps_seen: int, since_ready: float
) -> float:
    """Audio sent to the backend and not yet processed. With extra heads (stt-1b-en_fr) each
    processed frame is acknowledged by a ``Step``; without (stt-2.6b-en) the backend is assumed
    to keep up with real time from ``Ready``. (moshi-server's own ``buffered_pcm`` counts only
    the leftover of oversized messages, never the queue.)"""
    if model.has_vad:
        return max(0, frames_sent - steps_seen) * FRAME_SECONDS
    return max(0.0, frames_sent * FRAME_SECONDS - since_ready)


def flush_stalled(now: float, expected_end: float, last_heard: float) -> bool:
    """Whether a flush should give up: well past its expected end, and the backend silent."""
    return now > expected_end + FLUSH_GRACE and now - last_heard > FLUSH_GRACE


def error_code(error: moshi.Error) -> ErrorCode:
    """The ``/v1/stream`` code of a backend ``Error``: ``busy`` when no slot is free."""
    if moshi.NO_FREE_CHANNELS in error.message:
        return ErrorCode.BUSY
    return ErrorCode.BACKEND_UNAVAILABLE
