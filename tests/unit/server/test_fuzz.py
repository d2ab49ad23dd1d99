"""Fuzzing (ISSUE 14, section 2) with hypothesis: both wire decoders with arbitrary bytes and
with structured messages that look almost right, and the moshi session as a state machine fed
arbitrary decoded backend messages, audio and times. Only documented errors may come out:
:class:`~server.protocol.errors.ProtocolError` from a decoder, nothing from the session.

The default run is short. The long run (``-m fuzz`` is not needed: the same tests, more
inputs) uses the ``fuzz`` hypothesis profile; ``--hypothesis-show-statistics`` prints how many
inputs each test tried (README, "Long runs")."""

from __future__ import annotations

import contextlib
import json
import math

import msgpack
import numpy as np
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from server.models import STT_1B, STT_2_6B
from server.protocol import ProtocolError, moshi, stream
from server.protocol.audio import FRAME_SAMPLES
from server.protocol.moshi_session import MoshiSession
from tests.support.fuzzing import given_fuzz, machine_settings

SERVER_TYPES = ["Ready", "Word", "EndWord", "Step", "Marker", "Error", "Audio", "Other", ""]
CLIENT_TYPES = ["end", "End", "audio", "ping", "", "token"]
scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**64 - 1)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=20)
    | st.binary(max_size=20)
)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
msgpack_maps = st.fixed_dictionaries(
    {"type": st.sampled_from(SERVER_TYPES) | st.text(max_size=8) | values},
    optional={
        key: values
        for key in (
            "text",
            "start_time",
            "stop_time",
            "step_idx",
            "prs",
            "buffered_pcm",
            "id",
            "message",
            "pcm",
            "data",
        )
    },
)


def _pack(obj: object) -> bytes:
    return msgpack.packb(obj, use_bin_type=True)


msgpack_messages = msgpack_maps.map(_pack) | values.map(_pack) | st.binary(max_size=200)
json_texts = (
    st.fixed_dictionaries(
        {"type": st.sampled_from(CLIENT_TYPES) | values},
        optional={"text": values, "start": values, "message": values, "code": values},
    ).map(lambda obj: json.dumps(obj, default=repr))
    | values.map(lambda obj: json.dumps(obj, default=repr))
    | st.text(max_size=200)
)


@given_fuzz(msgpack_messages)
def test_moshi_decoders_raise_only_protocol_error(data: bytes) -> None:
    for decode in (moshi.decode_server, moshi.decode_client):
        with contextlib.suppress(ProtocolError):
            decode(data)


@given_fuzz(json_texts | st.binary(max_size=300))
def test_stream_decoders_raise_only_protocol_error(data: str | bytes) -> None:
    for decode in (stream.decode_client, stream.decode_server):
        try:
            message = decode(data)
        except ProtocolError:
            continue
        if isinstance(message, stream.AudioChunk):
            assert len(message.pcm) % 4 == 0
        if isinstance(message, stream.Token):
            assert message.start is None or math.isfinite(message.start)


probabilities = st.lists(st.floats(0, 1), max_size=4).map(tuple)
backend_messages = (
    st.sampled_from([moshi.Ready(), moshi.Marker(1), moshi.EndWord(0.0)])
    | st.builds(moshi.Word, st.text(max_size=10), st.floats(0, 100))
    | st.builds(
        moshi.Step,
        st.integers(0, 10**6),
        probabilities,
        st.integers(0, 10**6),
    )
    | st.builds(moshi.Error, st.text(max_size=20))
)
audio = st.lists(
    st.floats(allow_nan=True, allow_infinity=True, width=32), max_size=FRAME_SAMPLES + 7
).map(lambda xs: np.asarray(xs, np.float32))


class SessionMachine(RuleBasedStateMachine):
    """The relay's uses of :class:`MoshiSession`, in any order, with any backend message: no
    exception, whole frames to the backend, and nothing after the session is done."""

    def __init__(self) -> None:
        super().__init__()
        self.session = MoshiSession(STT_1B, marker_id=1)
        self.now = 0.0
        self.finished = False

    @rule(model=st.sampled_from([STT_1B, STT_2_6B]))
    def restart(self, model: object) -> None:
        if not self.session.done:
            return
        self.session = MoshiSession(model, marker_id=1)  # type: ignore[arg-type]
        self.finished = False

    @precondition(lambda self: not self.session.ended)
    @rule(samples=audio)
    def send_audio(self, samples: np.ndarray) -> None:
        self.session.audio(samples)

    @rule()
    def end(self) -> None:
        self.session.end(self.now)

    @rule(message=backend_messages)
    def receive(self, message: moshi.ServerMessage) -> None:
        self.session.receive(message, self.now)

    @rule(seconds=st.floats(0, 30))
    def time_passes(self, seconds: float) -> None:
        self.now += seconds
        self.session.timer(self.now)

    @invariant()
    def outputs_follow_the_rules(self) -> None:
        for data in self.session.data_to_send():
            assert not self.finished, "data for the backend after the session was done"
            message = moshi.decode_client(data)
            if isinstance(message, moshi.Audio):
                assert len(message.pcm) == FRAME_SAMPLES * 4
        for event in self.session.events():
            assert not self.finished, "an event after End or Error"
            if isinstance(event, stream.Error):
                assert event.code is not None
            self.finished = isinstance(event, stream.End | stream.Error)


SessionMachine.TestCase.settings = machine_settings()
test_moshi_session_machine = SessionMachine.TestCase
