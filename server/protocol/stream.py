"""The public ``/v1/stream`` protocol: raw float32 PCM up, JSON events down.

Client -> server: binary messages of float32 LE samples (:class:`AudioChunk`) and the text
message ``{"type": "end"}`` (:class:`EndOfAudio`). Server -> client: JSON text messages
(:class:`Ready`, :class:`Token`, :class:`VadEnd`, :class:`Ping`, :class:`Error`, :class:`End`).
See PROTOCOL.md section 1.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

from server.protocol.audio import pcm_from_bytes
from server.protocol.errors import ErrorCode, ProtocolError, UnknownMessageType

PATH = "/v1/stream"
# This project's proxy names its protocol in the 101 response; a server without this header
# speaks the original service's protocol (no ``ready``, no ``end``). PROTOCOL.md section 1.
PROTOCOL_HEADER = "Kyutai-Dictate-Protocol"
PROTOCOL_VERSION = "1"


@dataclass(frozen=True, slots=True)
class AudioChunk:
    """Client audio: float32 little-endian samples, any whole number of them."""

    pcm: bytes


@dataclass(frozen=True, slots=True)
class EndOfAudio:
    """Client: no more audio; flush and answer with :class:`End`."""


@dataclass(frozen=True, slots=True)
class Ready:
    """Server: a backend slot is held; audio sent earlier was buffered."""


@dataclass(frozen=True, slots=True)
class Token:
    """Server: one final word, with its leading space; ``start`` in seconds into the stream."""

    text: str
    start: float | None = None


@dataclass(frozen=True, slots=True)
class VadEnd:
    """Server: the speaker finished a sentence or turn."""


@dataclass(frozen=True, slots=True)
class Ping:
    """Server: keepalive."""


@dataclass(frozen=True, slots=True)
class Error:
    """Server: something failed; the connection closes after this."""

    message: str
    code: ErrorCode | None = None


@dataclass(frozen=True, slots=True)
class End:
    """Server: reply to :class:`EndOfAudio`; nothing follows."""


ClientMessage = AudioChunk | EndOfAudio
ServerMessage = Ready | Token | VadEnd | Ping | Error | End

_SIMPLE: dict[str, ServerMessage] = {
    "ready": Ready(),
    "vad_end": VadEnd(),
    "ping": Ping(),
    "end": End(),
}


def encode_client(message: ClientMessage) -> bytes | str:
    """Wire form of a client message: bytes for audio, JSON text otherwise."""
    if isinstance(message, AudioChunk):
        return message.pcm
    return '{"type": "end"}'


def decode_client(data: bytes | str) -> ClientMessage:
    """Parse what a client sent. Raises :class:`ProtocolError` (``bad_audio``/``bad_message``)."""
    if isinstance(data, bytes):
        pcm_from_bytes(data)  # validates the length
        return AudioChunk(data)
    kind = _json_object(data).get("type")
    if kind == "end":
        return EndOfAudio()
    raise _unknown(kind)


def encode_server(message: ServerMessage) -> str:
    """JSON text of a server message."""
    obj: dict[str, Any]
    match message:
        case Token(text, start):
            obj = {"type": "token", "text": text}
            if start is not None:
                obj["start"] = start
        case Error(text, code):
            obj = {"type": "error", "message": text}
            if code is not None:
                obj["code"] = code.value
        case Ready():
            obj = {"type": "ready"}
        case VadEnd():
            obj = {"type": "vad_end"}
        case Ping():
            obj = {"type": "ping"}
        case End():
            obj = {"type": "end"}
    return json.dumps(obj, ensure_ascii=False)


def decode_server(data: bytes | str) -> ServerMessage:
    """Parse what a server sent. Raises :class:`ProtocolError` for anything malformed."""
    if isinstance(data, bytes):
        raise ProtocolError("server sent a binary message; only JSON text is defined")
    obj = _json_object(data)
    kind = obj.get("type")
    if isinstance(kind, str) and kind in _SIMPLE:
        return _SIMPLE[kind]
    if kind == "token":
        text, start = obj.get("text"), obj.get("start")
        if not isinstance(text, str):
            raise ProtocolError("token without a text string")
        if start is not None and not _is_finite_number(start):
            raise ProtocolError("token start is not a finite number")
        return Token(text, None if start is None else float(start))
    if kind == "error":
        text, code = obj.get("message"), obj.get("code")
        if not isinstance(text, str):
            raise ProtocolError("error without a message string")
        known = {c.value for c in ErrorCode}
        return Error(text, ErrorCode(code) if code in known else None)
    raise _unknown(kind)


def _unknown(kind: object) -> ProtocolError:
    if not isinstance(kind, str):
        return ProtocolError("message without a type")
    return UnknownMessageType(kind)


def _is_finite_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _json_object(text: str) -> dict[str, Any]:
    try:
        obj = json.loads(text)
    except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError
        raise ProtocolError(f"text message is not JSON: {exc}") from None
    except RecursionError:
        raise ProtocolError("text message nests too deeply") from None
    if not isinstance(obj, dict):
        raise ProtocolError("text message is not a JSON object")
    return obj
