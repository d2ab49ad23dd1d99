"""moshi-server's ``/api/asr-streaming`` protocol: one msgpack map per binary WebSocket frame.

Client -> server: :class:`Audio`, :class:`Marker`, :class:`OggOpus`, :class:`Init`.
Server -> client: :class:`Ready`, :class:`Word`, :class:`EndWord`, :class:`Step`,
:class:`Marker`, :class:`Error`. See PROTOCOL.md section 2.

Audio is the hot path (12.5 messages a second per stream), so :func:`encode` writes it with
numpy in one pass and :func:`decode_client` reads the canonical layout back the same way.
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass
from typing import Any

import msgpack
import numpy as np

from server.protocol.errors import ProtocolError, UnknownMessageType

PATH = "/api/asr-streaming"
API_KEY_HEADER = "kyutai-api-key"
NO_FREE_CHANNELS = "no free channels"


@dataclass(frozen=True, slots=True)
class Audio:
    """PCM samples as float32 little-endian bytes (send whole 1920-sample frames)."""

    pcm: bytes

    @classmethod
    def from_samples(cls, samples: np.ndarray[Any, Any]) -> Audio:
        """Wrap a float array (converted to float32)."""
        return cls(np.asarray(samples, dtype="<f4").tobytes())

    def samples(self) -> np.ndarray[Any, np.dtype[np.float32]]:
        """The samples as a read-only float32 array."""
        return np.frombuffer(self.pcm, dtype="<f4")


@dataclass(frozen=True, slots=True)
class Marker:
    """Client: a marker; server: its echo once all audio before it was transcribed."""

    id: int


@dataclass(frozen=True, slots=True)
class OggOpus:
    """Client: a chunk of an Ogg/Opus stream (unused by this project, decoded for completeness)."""

    data: bytes


@dataclass(frozen=True, slots=True)
class Init:
    """Client: (re)initialise the stream."""


@dataclass(frozen=True, slots=True)
class Ready:
    """Server: a batch slot is assigned; audio is processed from now on."""


@dataclass(frozen=True, slots=True)
class Word:
    """Server: a recognised word, without leading space; ``start_time`` in stream seconds."""

    text: str
    start_time: float


@dataclass(frozen=True, slots=True)
class EndWord:
    """Server: the previous word ended at ``stop_time`` (sent when the next word begins)."""

    stop_time: float


@dataclass(frozen=True, slots=True)
class Step:
    """Server: one processed frame; ``prs[i]``: probability of a 0.5/1/2/3 s pause."""

    step_idx: int
    prs: tuple[float, ...]
    buffered_pcm: int


@dataclass(frozen=True, slots=True)
class Error:
    """Server: an error; the connection ends."""

    message: str


ClientMessage = Audio | Marker | OggOpus | Init
ServerMessage = Ready | Word | EndWord | Step | Marker | Error
Message = ClientMessage | ServerMessage

# Canonical Audio layout (what msgpack writes with use_single_float=True): fixmap(2) "type"
# "Audio" "pcm", the smallest array header for n, then n x (0xca, f32 big-endian).
_AUDIO_HEAD = msgpack.packb({"type": "Audio", "pcm": []})[:-1]  # drop the empty fixarray
_SAMPLE = np.dtype([("tag", "u1"), ("value", ">f4")])
_FLOAT32_TAG = 0xCA


def encode(message: Message) -> bytes:
    """The msgpack bytes of any message of this protocol."""
    if isinstance(message, Audio):
        return encode_audio(message.samples())
    obj: dict[str, Any]
    single_float = False
    match message:
        case Marker(marker_id):
            obj = {"type": "Marker", "id": marker_id}
        case OggOpus(data):
            obj = {"type": "OggOpus", "data": data}
        case Init():
            obj = {"type": "Init"}
        case Ready():
            obj = {"type": "Ready"}
        case Word(text, start_time):
            obj = {"type": "Word", "text": text, "start_time": start_time}
        case EndWord(stop_time):
            obj = {"type": "EndWord", "stop_time": stop_time}
        case Step(step_idx, prs, buffered_pcm):
            obj = {"type": "Step", "step_idx": step_idx, "prs": list(prs)}
            obj["buffered_pcm"] = buffered_pcm
            single_float = True  # prs are f32 in moshi-server
        case Error(text):
            obj = {"type": "Error", "message": text}
    packed: bytes = msgpack.packb(obj, use_single_float=single_float)
    return packed


def encode_audio(samples: np.ndarray[Any, np.dtype[np.float32]]) -> bytes:
    """``encode(Audio(...))`` straight from an array of samples (the proxy's hot path)."""
    n = len(samples)
    if n < 16:
        head = _AUDIO_HEAD + bytes([0x90 | n])
    elif n < 0x10000:
        head = _AUDIO_HEAD + b"\xdc" + struct.pack(">H", n)
    else:
        head = _AUDIO_HEAD + b"\xdd" + struct.pack(">I", n)
    body = np.empty(n, dtype=_SAMPLE)
    body["tag"] = _FLOAT32_TAG
    body["value"] = samples
    return head + body.tobytes()


def decode_client(data: bytes) -> ClientMessage:
    """Parse a client -> server frame. Raises :class:`ProtocolError` if malformed."""
    fast = _decode_canonical_audio(data)
    if fast is not None:
        return fast
    obj = _unpack(data)
    match obj.get("type"):
        case "Audio":
            pcm = obj.get("pcm")
            if not isinstance(pcm, list) or not all(_is_number(v) for v in pcm):
                raise ProtocolError("Audio.pcm is not a list of numbers")
            with np.errstate(over="ignore"):  # out-of-range values become inf, sanitised later
                return Audio(np.asarray(pcm, dtype="<f4").tobytes())
        case "Marker":
            return Marker(_int(obj, "id"))
        case "OggOpus":
            raw = obj.get("data")
            if not isinstance(raw, bytes):
                raise ProtocolError("OggOpus.data is not binary")
            return OggOpus(raw)
        case "Init":
            return Init()
        case other:
            raise _unknown(other)


def decode_server(data: bytes) -> ServerMessage:
    """Parse a server -> client frame. Raises :class:`ProtocolError` if malformed."""
    obj = _unpack(data)
    match obj.get("type"):
        case "Ready":
            return Ready()
        case "Word":
            text = obj.get("text")
            if not isinstance(text, str):
                raise ProtocolError("Word.text is not a string")
            return Word(text, _float(obj, "start_time"))
        case "EndWord":
            return EndWord(_float(obj, "stop_time"))
        case "Step":
            prs = obj.get("prs")
            if not isinstance(prs, list) or not all(_is_number(p) for p in prs):
                raise ProtocolError("Step.prs is not a list of numbers")
            return Step(
                _int(obj, "step_idx"), tuple(float(p) for p in prs), _int(obj, "buffered_pcm")
            )
        case "Marker":
            return Marker(_int(obj, "id"))
        case "Error":
            text = obj.get("message")
            if not isinstance(text, str):
                raise ProtocolError("Error.message is not a string")
            return Error(text)
        case other:
            raise _unknown(other)


def _decode_canonical_audio(data: bytes) -> Audio | None:
    head = len(_AUDIO_HEAD)
    if not data.startswith(_AUDIO_HEAD) or len(data) < head + 3 or data[head] != 0xDC:
        return None
    (n,) = struct.unpack_from(">H", data, head + 1)
    if len(data) != head + 3 + 5 * n:
        return None
    body = np.frombuffer(data, dtype=_SAMPLE, offset=head + 3)
    if not (body["tag"] == _FLOAT32_TAG).all():
        return None
    return Audio(body["value"].astype("<f4").tobytes())


def _unknown(kind: object) -> ProtocolError:
    if not isinstance(kind, str):
        return ProtocolError("message without a type")
    return UnknownMessageType(kind)


def _unpack(data: bytes) -> dict[str, Any]:
    try:
        obj = msgpack.unpackb(data, raw=False, strict_map_key=False)
    except Exception as exc:  # msgpack raises many types for garbage; all mean the same here
        raise ProtocolError(f"not a msgpack message: {type(exc).__name__}") from None
    if not isinstance(obj, dict):
        raise ProtocolError("msgpack message is not a map")
    return obj


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _int(obj: dict[str, Any], key: str) -> int:
    value = obj.get(key)
    if not isinstance(value, int) or isinstance(value, bool):
        raise ProtocolError(f"{obj.get('type')}.{key} is not an integer")
    return value


def _float(obj: dict[str, Any], key: str) -> float:
    value = obj.get(key)
    if not _is_number(value):
        raise ProtocolError(f"{obj.get('type')}.{key} is not a number")
    result = float(value)  # type: ignore[arg-type]
    if not math.isfinite(result):
        raise ProtocolError(f"{obj.get('type')}.{key} is not finite")
    return result
