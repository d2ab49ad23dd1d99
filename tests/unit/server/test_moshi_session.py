"""The sans-I/O moshi-server session under any interleaving of the caller's audio, its end, and
moshi-server's Ready, Steps, Words and Markers (hypothesis)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from server.models import STT_1B, STT_2_6B, ModelProfile
from server.protocol import moshi, stream
from server.protocol.audio import FRAME_SAMPLES, FRAME_SECONDS, SAMPLE_RATE
from server.protocol.errors import ErrorCode
from server.protocol.moshi_session import MoshiSession

MARKER = 7


@dataclass
class Backend:
    """What moshi-server received, decoded, and what the caller was told."""

    session: MoshiSession
    audio: list[np.ndarray] = field(default_factory=list)
    markers: list[int] = field(default_factory=list)
    audio_after_marker: int = 0
    sent_before_ready: int = 0
    events: list[stream.ServerMessage] = field(default_factory=list)
    words_received: list[str] = field(default_factory=list)
    events_after_end: int = 0
    sent_after_done: int = 0

    def collect(self) -> None:
        ready = any(isinstance(e, stream.Ready) for e in self.events)
        events = self.session.events()
        ready = ready or any(isinstance(e, stream.Ready) for e in events)
        for data in self.session.data_to_send():
            if any(isinstance(e, stream.End | stream.Error) for e in self.events):
                self.sent_after_done += 1
            message = moshi.decode_client(data)
            if not ready:
                self.sent_before_ready += 1
            if isinstance(message, moshi.Audio):
                self.audio.append(message.samples())
                self.audio_after_marker += bool(self.markers)
            elif isinstance(message, moshi.Marker):
                self.markers.append(message.id)
        for event in events:
            if any(isinstance(e, stream.End | stream.Error) for e in self.events):
                self.events_after_end += 1
            self.events.append(event)

    @property
    def tokens(self) -> list[str]:
        return [e.text for e in self.events if isinstance(e, stream.Token)]

    @property
    def ended(self) -> bool:
        return any(isinstance(e, stream.End) for e in self.events)


WORDS = st.text(alphabet="abcdéß日", min_size=1, max_size=5)
ACTIONS = st.lists(
    st.one_of(
        st.tuples(st.just("audio"), st.integers(0, 3 * FRAME_SAMPLES)),
        st.tuples(st.just("step"), st.floats(0, 1)),
        st.tuples(st.just("word"), WORDS),
        st.tuples(st.just("ready"), st.none()),
        st.tuples(st.just("end"), st.none()),
        st.tuples(st.just("marker"), st.none()),
        st.tuples(st.just("timer"), st.floats(0, 30)),
        st.tuples(st.just("foreign marker"), st.integers(0, 100).filter(lambda i: i != MARKER)),
        st.tuples(st.just("error"), st.sampled_from([moshi.NO_FREE_CHANNELS, "model failed"])),
    ),
    max_size=60,
)


def run(model: ModelProfile, actions: list[tuple[str, object]], seed: int) -> tuple[Backend, list]:
    rng = np.random.default_rng(seed)
    session = MoshiSession(model, MARKER)
    backend = Backend(session)
    sent: list[np.ndarray] = []
    now = 0.0
    for kind, arg in actions:
        now += 0.01
        if kind == "audio" and not session.ended:
            samples = rng.uniform(-1.5, 1.5, int(arg)).astype(np.float32)  # type: ignore[call-overload]
            samples[::97] = np.nan  # sanitised on the way
            sent.append(samples)
            session.audio(samples)
        elif kind == "step" and session.ready:
            session.receive(moshi.Step(1, (0.0, 0.0, float(arg), 0.0), 0), now)  # type: ignore[arg-type]
        elif kind == "word" and session.ready:
            if not session.done:  # after End or Error, words are no longer the caller's
                backend.words_received.append(str(arg))
            session.receive(moshi.Word(str(arg), now), now)
        elif kind == "ready":
            session.receive(moshi.Ready(), now)
        elif kind == "end":
            session.end(now)
        elif kind == "marker" and backend.markers:
            session.receive(moshi.Marker(backend.markers[-1]), now)
        elif kind == "foreign marker":
            session.receive(moshi.Marker(int(arg)), now)  # type: ignore[call-overload]
        elif kind == "error":
            session.receive(moshi.Error(str(arg)), now)
        elif kind == "timer":
            now += float(arg)  # type: ignore[arg-type]
            session.timer(now)
        if rng.random() < 0.5:  # the shell may read outputs after several inputs
            backend.collect()
    backend.collect()
    return backend, sent


def expected_audio(model: ModelProfile, sent: list[np.ndarray]) -> np.ndarray:
    prefix = np.zeros(round(model.silence_prefix_seconds * SAMPLE_RATE), np.float32)
    caller = np.concatenate([prefix, *sent]) if sent else prefix
    return np.clip(np.nan_to_num(caller, nan=0.0), -1, 1)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from([STT_1B, STT_2_6B]), ACTIONS, st.integers(0, 2**32 - 1))
def test_any_interleaving_keeps_the_rules(
    model: ModelProfile, actions: list[tuple[str, object]], seed: int
) -> None:
    backend, sent = run(model, actions, seed)
    ended = backend.ended
    words_before_end = backend.words_received
    if ended:
        assert backend.markers == [MARKER]
    # Words come out in order, each with its leading space; every word the backend sent before
    # the marker came back (or before it failed) comes out, and none after.
    assert backend.tokens == [" " + w for w in words_before_end]
    # Nothing goes to the backend once the session is over.
    assert backend.sent_after_done == 0
    # Nothing comes out after End (or Error).
    assert backend.events_after_end == 0
    # Nothing goes to the backend before Ready.
    assert backend.sent_before_ready == 0
    # Every input sample goes to the backend exactly once, in order; then only silence.
    received = np.concatenate(backend.audio) if backend.audio else np.zeros(0, np.float32)
    caller = expected_audio(model, sent)
    if backend.markers:  # flushed: every sample, padded, then silence
        np.testing.assert_array_equal(received[: len(caller)], caller)
        assert not received[len(caller) :].any()
        assert len(received) % FRAME_SAMPLES == 0
    else:  # whole frames of what was sent so far (until a failure), none twice
        whole = len(caller) - len(caller) % FRAME_SAMPLES
        failed = any(isinstance(e, stream.Error) for e in backend.events)
        assert failed or len(received) in (0, whole) or not backend.session.ready
        assert len(received) % FRAME_SAMPLES == 0
        np.testing.assert_array_equal(received, caller[: len(received)])
    assert len(backend.markers) <= 1
    assert sum(isinstance(e, stream.End | stream.Error) for e in backend.events) <= 1


@pytest.mark.parametrize("model", [STT_1B, STT_2_6B])
def test_a_flush_before_ready_waits_for_it_and_ends_on_the_marker(model: ModelProfile) -> None:
    session = MoshiSession(model, MARKER)
    session.audio(np.ones(FRAME_SAMPLES + 10, np.float32) * 0.5)
    session.end(0.0)
    assert session.data_to_send() == []  # nothing before Ready
    session.receive(moshi.Ready(), 1.0)
    sent = [moshi.decode_client(d) for d in session.data_to_send()]
    kinds = [type(m).__name__ for m in sent]
    marker_at = kinds.index("Marker")
    # prefix + 1 frame + the padded partial frame + the delay's silence, then the marker
    prefix_frames = round(model.silence_prefix_seconds / FRAME_SECONDS)
    assert marker_at == prefix_frames + 2 + model.flush_frames
    assert session.events() == [stream.Ready()]
    session.receive(moshi.Word("Hi", 1.2), 1.1)
    session.receive(moshi.Marker(MARKER), 1.2)
    assert session.events() == [
        stream.Token(" Hi", max(0.0, 1.2 - model.silence_prefix_seconds)),
        stream.End(),
    ]
    session.receive(moshi.Word("late", 1.3), 1.3)
    assert session.events() == []


def test_the_flush_stays_a_few_frames_ahead_of_the_steps() -> None:
    session = MoshiSession(STT_1B, MARKER)
    session.receive(moshi.Ready(), 0.0)
    session.data_to_send()
    session.end(0.0)
    first = [moshi.decode_client(d) for d in session.data_to_send()]
    silence_after_marker = len(first) - 1 - [type(m) for m in first].index(moshi.Marker)
    assert silence_after_marker == 0  # 8 frames sent with no Step yet: already 8 ahead
    session.receive(moshi.Step(1, (0.0,) * 4, 0), 0.1)
    assert len(session.data_to_send()) == 1  # one processed, one more may go


def test_a_flush_that_never_ends_fails_and_a_quiet_one_is_paced() -> None:
    session = MoshiSession(STT_1B, MARKER)
    session.receive(moshi.Ready(), 0.0)
    session.end(0.0)
    session.data_to_send()
    session.timer(0.2)  # not yet overdue
    assert session.data_to_send() == []
    session.timer(1.5)  # past backlog + delay (1.12 s) and quiet: one paced frame
    assert len(session.data_to_send()) == 1
    session.timer(20.0)  # far past the end and silent: give up
    (error,) = session.events()[1:]
    assert error == stream.Error(
        "the backend did not finish the stream", ErrorCode.BACKEND_UNAVAILABLE
    )
    assert session.done


def test_a_backend_error_ends_the_session() -> None:
    session = MoshiSession(STT_1B, MARKER)
    session.receive(moshi.Error(moshi.NO_FREE_CHANNELS), 0.0)
    assert session.events() == [stream.Error(moshi.NO_FREE_CHANNELS, ErrorCode.BUSY)]
    session.receive(moshi.Ready(), 0.1)
    assert session.events() == []
