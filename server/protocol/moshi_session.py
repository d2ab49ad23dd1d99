"""One moshi-server session, without I/O: the rules of PROTOCOL.md section 3 in one place.

The proxy (:mod:`server.proxy.relay`) and the app's direct client
(:mod:`app.backend.moshi_client`) are thin I/O shells around :class:`MoshiSession`, the way
python-websockets wraps its sans-I/O ``Protocol`` in an asyncio connection::

    session = MoshiSession(model, marker_id=1)
    session.audio(samples)                 # the caller's audio, any length
    session.receive(message, now)          # each message from moshi-server
    session.end(now)                       # no more audio: flush
    session.timer(now)                     # nothing heard for session.timer_interval()
    for data in session.data_to_send(): ...  # binary frames for moshi-server, in order
    for event in session.events(): ...       # Ready, Token, VadEnd, then End (or Error)

Audio is held until ``Ready``, then re-framed into 1920-sample ``Audio`` messages (after the
model's silence prefix). ``Word`` becomes ``Token``, pause predictions become ``VadEnd``. The
flush pads the partial frame, sends the silence that covers the model delay and a ``Marker``,
then more silence without real-time pacing until the ``Marker`` comes back
(:func:`~server.protocol.backend_rules.flush_silence_frames`); that is ``End``. After ``End``
or ``Error`` nothing more comes out.
"""

from __future__ import annotations

from collections import deque

from server.models import ModelProfile
from server.protocol import moshi, stream
from server.protocol.audio import FRAME_SECONDS, SAMPLE_RATE, Reframer, Samples, sanitize
from server.protocol.backend_rules import (
    SILENT_FRAME,
    backlog_seconds,
    error_code,
    flush_audio,
    flush_silence_frames,
    flush_stalled,
    silence_prefix,
    to_token,
)
from server.protocol.errors import ErrorCode
from server.protocol.vad import VadTracker


class MoshiSession:
    """The state of one session: what to send moshi-server, what to tell the caller."""

    def __init__(self, model: ModelProfile, marker_id: int) -> None:
        self.model = model
        self._marker_id = marker_id
        self._reframer = Reframer()
        # Frames held until Ready, starting with the model's silence prefix.
        self._pending: list[Samples] = self._reframer.push(silence_prefix(model))
        self._outbox: deque[bytes] = deque()
        self._events: deque[stream.ServerMessage] = deque()
        self._vad = VadTracker()
        self._ready_at: float | None = None
        self.ended = False  # end() was called
        self.done = False  # End or Error emitted: nothing more comes out
        self.flushing = False  # the Marker is sent
        self.frames_sent = 0
        self._silence_sent = 0  # silent frames after the Marker
        self._expected_end = 0.0  # when the Marker should be back
        self._last_heard = 0.0

    # -- inputs ------------------------------------------------------------------------

    def audio(self, samples: Samples) -> None:
        """The caller's next samples (non-finite ones become 0, the rest clipped to [-1, 1])."""
        if self.ended:
            raise RuntimeError("audio after end()")
        if self.done:
            return  # the session failed: nothing more goes to the backend
        frames = self._reframer.push(sanitize(samples))
        if self._ready_at is None:
            self._pending.extend(frames)
        else:
            self._send_frames(frames)

    def end(self, now: float) -> None:
        """No more audio: flush now, or as soon as ``Ready`` comes. Idempotent."""
        if self.ended:
            return
        self.ended = True
        if self._ready_at is not None and not self.done:
            self._start_flush(now)

    def receive(self, message: moshi.ServerMessage, now: float) -> None:
        """A message from moshi-server."""
        self._last_heard = now
        if self.done:
            return
        match message:
            case moshi.Ready():
                self._on_ready(now)
            case moshi.Word() as word:
                self._vad.on_word()
                self._events.append(to_token(word, self.model))
            case moshi.Step(prs=prs):
                if self._vad.on_step(prs):
                    self._events.append(stream.VadEnd())
                if self.flushing:
                    self._send_flush_silence()
            case moshi.Marker(id=marker_id) if self.flushing and marker_id == self._marker_id:
                self._finish(stream.End())
            case moshi.Error(message=text) as error:
                self._finish(stream.Error(text, error_code(error)))
            case _:
                pass  # EndWord (words need no end here), a Marker that is not ours

    def timer(self, now: float) -> None:
        """Time passes during a flush (call every :meth:`timer_interval`): once the flush is
        overdue and the backend has been quiet for a frame time, one silent frame, as real-time
        pacing would (a fallback); give up when it stalls."""
        if not self.flushing or self.done:
            return
        if flush_stalled(now, self._expected_end, self._last_heard):
            self._finish(
                stream.Error("the backend did not finish the stream", ErrorCode.BACKEND_UNAVAILABLE)
            )
        elif now > self._expected_end and now - self._last_heard >= FRAME_SECONDS:
            self._outbox.append(SILENT_FRAME)
            self.frames_sent += 1
            self._silence_sent += 1

    # -- outputs -----------------------------------------------------------------------

    def data_to_send(self) -> list[bytes]:
        """The binary frames for moshi-server since the last call, in order."""
        out = list(self._outbox)
        self._outbox.clear()
        return out

    def events(self) -> list[stream.ServerMessage]:
        """What to tell the caller since the last call, in order."""
        out = list(self._events)
        self._events.clear()
        return out

    # -- what the shell needs to know ---------------------------------------------------

    @property
    def ready(self) -> bool:
        return self._ready_at is not None

    @property
    def pending_seconds(self) -> float:
        """Audio held until ``Ready``."""
        return len(self._pending) * FRAME_SECONDS

    def timer_interval(self) -> float | None:
        """How long the shell may wait for moshi-server before calling :meth:`timer`."""
        return FRAME_SECONDS if self.flushing and not self.done else None

    def backlog_seconds(self, now: float) -> float:
        """Audio sent and not yet processed (see :func:`backlog_seconds`)."""
        if self._ready_at is None:
            return 0.0
        return backlog_seconds(self.model, self.frames_sent, self._vad.steps, now - self._ready_at)

    def backlog_samples(self, now: float) -> int:
        return round(self.backlog_seconds(now) * SAMPLE_RATE)

    # -- rules -------------------------------------------------------------------------

    def _on_ready(self, now: float) -> None:
        if self._ready_at is not None:
            return  # a second Ready answers an Init this session never sends
        self._ready_at = now
        self._events.append(stream.Ready())
        pending, self._pending = self._pending, []
        self._send_frames(pending)
        if self.ended:
            self._start_flush(now)

    def _start_flush(self, now: float) -> None:
        assert self._ready_at is not None
        self._send_frames(flush_audio(self._reframer, self.model))
        self._outbox.append(moshi.encode(moshi.Marker(self._marker_id)))
        self.flushing = True
        # Audio not yet processed (a caller faster than real time, a slow GPU) is worked
        # through before the marker can come back.
        self._expected_end = now + self.backlog_seconds(now) + self.model.delay_seconds
        self._send_flush_silence()  # without Steps (2.6B) all of it goes now

    def _send_flush_silence(self) -> None:
        backlog = self.frames_sent - self._vad.steps
        count = flush_silence_frames(self.model, self._silence_sent, backlog)
        self._outbox.extend([SILENT_FRAME] * count)
        self.frames_sent += count
        self._silence_sent += count

    def _send_frames(self, frames: list[Samples]) -> None:
        self._outbox.extend(moshi.encode_audio(frame) for frame in frames)
        self.frames_sent += len(frames)

    def _finish(self, event: stream.ServerMessage) -> None:
        self._events.append(event)
        self.done = True
        self._outbox.clear()  # nothing more is owed to the backend
