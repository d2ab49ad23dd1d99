"""/v1/stream messages: round trips, and garbage never raises anything but ProtocolError."""

from __future__ import annotations

import contextlib
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from server.protocol import ErrorCode, ProtocolError
from server.protocol.stream import (
    AudioChunk,
    End,
    EndOfAudio,
    Error,
    Ping,
    Ready,
    Token,
    VadEnd,
    decode_client,
    decode_server,
    encode_client,
    encode_server,
)

finite = st.floats(allow_nan=False, allow_infinity=False)
server_messages = st.one_of(
    st.just(Ready()),
    st.just(VadEnd()),
    st.just(Ping()),
    st.just(End()),
    st.builds(Token, st.text(), st.none() | finite),
    st.builds(Error, st.text(), st.none() | st.sampled_from(ErrorCode)),
)
client_messages = st.one_of(
    st.just(EndOfAudio()), st.builds(AudioChunk, st.binary().map(lambda b: b[: len(b) // 4 * 4]))
)


@given(server_messages)
def test_server_message_round_trip(message: object) -> None:
    assert decode_server(encode_server(message)) == message  # type: ignore[arg-type]


@given(client_messages)
def test_client_message_round_trip(message: object) -> None:
    assert decode_client(encode_client(message)) == message  # type: ignore[arg-type]


@given(st.binary() | st.text())
def test_arbitrary_client_input_raises_only_protocol_error(data: bytes | str) -> None:
    try:
        decode_client(data)
    except ProtocolError as exc:
        code = exc.code
    else:
        return
    assert code in {ErrorCode.BAD_AUDIO, ErrorCode.BAD_MESSAGE}


json_values = st.recursive(
    st.none() | st.booleans() | st.floats() | st.text(),
    lambda children: st.lists(children) | st.dictionaries(st.text(), children),
)


@given(st.text() | json_values.map(json.dumps) | st.binary())
def test_arbitrary_server_input_raises_only_protocol_error(data: bytes | str) -> None:
    with contextlib.suppress(ProtocolError):
        decode_server(data)


@given(st.dictionaries(st.sampled_from(["type", "text", "start", "message", "code"]), json_values))
def test_server_objects_with_wrong_fields_raise_only_protocol_error(obj: dict[str, object]) -> None:
    with contextlib.suppress(ProtocolError):
        decode_server(json.dumps(obj))


def test_wire_format_matches_the_public_protocol() -> None:
    assert json.loads(encode_server(Token(" Hello", 1.52))) == {
        "type": "token",
        "text": " Hello",
        "start": 1.52,
    }
    assert json.loads(encode_server(Error("slow down", ErrorCode.BUSY))) == {
        "type": "error",
        "message": "slow down",
        "code": "busy",
    }
    assert encode_client(EndOfAudio()) == '{"type": "end"}'
    # messages from servers that predate the extensions
    assert decode_server('{"type": "token", "text": " Hi"}') == Token(" Hi", None)
    assert decode_server('{"type": "error", "message": "x"}') == Error("x", None)
    assert decode_server('{"type": "error", "message": "x", "code": "new"}') == Error("x", None)


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b"\x00\x00\x00", ErrorCode.BAD_AUDIO),
        ("{", ErrorCode.BAD_MESSAGE),
        ('{"type": "start"}', ErrorCode.BAD_MESSAGE),
        ('"end"', ErrorCode.BAD_MESSAGE),
    ],
)
def test_bad_client_messages_name_the_rule(data: bytes | str, code: ErrorCode) -> None:
    with pytest.raises(ProtocolError) as caught:
        decode_client(data)
    assert caught.value.code is code
    assert str(caught.value)
