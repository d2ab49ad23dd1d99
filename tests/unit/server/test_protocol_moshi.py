"""moshi-server msgpack messages: round trips, canonical Audio layout, garbage handling."""

from __future__ import annotations

import contextlib

import msgpack
import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from server.protocol import ProtocolError, moshi

finite = st.floats(allow_nan=False, allow_infinity=False)
f32 = st.floats(allow_nan=False, allow_infinity=False, width=32)
ints = st.integers(min_value=-(2**63), max_value=2**64 - 1)
pcm = st.lists(f32, max_size=4000).map(lambda xs: np.asarray(xs, "<f4").tobytes())

client_messages = st.one_of(
    st.builds(moshi.Audio, pcm),
    st.builds(moshi.Marker, ints),
    st.builds(moshi.OggOpus, st.binary()),
    st.just(moshi.Init()),
)
server_messages = st.one_of(
    st.just(moshi.Ready()),
    st.builds(moshi.Word, st.text(), finite),
    st.builds(moshi.EndWord, finite),
    st.builds(moshi.Step, ints, st.lists(f32, max_size=4).map(tuple), ints),
    st.builds(moshi.Marker, ints),
    st.builds(moshi.Error, st.text()),
)


@given(client_messages)
def test_client_round_trip(message: moshi.ClientMessage) -> None:
    assert moshi.decode_client(moshi.encode(message)) == message


@given(server_messages)
def test_server_round_trip(message: moshi.ServerMessage) -> None:
    assert moshi.decode_server(moshi.encode(message)) == message


@given(st.lists(f32, max_size=3000))
def test_audio_is_what_msgpack_writes_with_single_floats(samples: list[float]) -> None:
    audio = moshi.Audio.from_samples(np.asarray(samples, np.float32))
    expected = msgpack.packb(
        {"type": "Audio", "pcm": [float(x) for x in audio.samples()]}, use_single_float=True
    )
    assert moshi.encode(audio) == expected


@given(st.lists(st.floats(-1e30, 1e30), max_size=50))
def test_audio_from_a_double_precision_encoder_is_read(samples: list[float]) -> None:
    data = msgpack.packb({"type": "Audio", "pcm": samples})  # float64, as the old client sent
    decoded = moshi.decode_client(data)
    assert isinstance(decoded, moshi.Audio)
    np.testing.assert_array_equal(decoded.samples(), np.asarray(samples, np.float32))


def test_frame_is_half_the_size_of_a_float64_encoding() -> None:
    frame = moshi.encode(moshi.Audio.from_samples(np.zeros(1920)))
    assert len(frame) == 5 * 1920 + 19


@given(st.binary())
def test_arbitrary_bytes_raise_only_protocol_error(data: bytes) -> None:
    for decode in (moshi.decode_client, moshi.decode_server):
        with contextlib.suppress(ProtocolError):
            decode(data)


values = st.recursive(
    st.none() | st.booleans() | ints | st.floats() | st.text() | st.binary(),
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(), children),
    max_leaves=20,
)
fields = st.sampled_from(
    [
        "type",
        "pcm",
        "id",
        "data",
        "text",
        "start_time",
        "stop_time",
        "step_idx",
        "prs",
        "buffered_pcm",
        "message",
    ]
)
types = st.sampled_from(
    ["Audio", "Marker", "OggOpus", "Init", "Ready", "Word", "EndWord", "Step", "Error", "Nope"]
)


@given(types, st.dictionaries(fields, values))
def test_known_types_with_wrong_fields_raise_only_protocol_error(
    kind: str, obj: dict[str, object]
) -> None:
    data = msgpack.packb({**obj, "type": kind})
    for decode in (moshi.decode_client, moshi.decode_server):
        with contextlib.suppress(ProtocolError):
            decode(data)


@given(st.binary(min_size=1, max_size=64), st.integers(0, 200))
def test_corrupted_audio_frames_raise_only_protocol_error(noise: bytes, position: int) -> None:
    frame = bytearray(moshi.encode(moshi.Audio.from_samples(np.linspace(-1, 1, 40))))
    frame[position : position + len(noise)] = noise
    with contextlib.suppress(ProtocolError):
        moshi.decode_client(bytes(frame))
