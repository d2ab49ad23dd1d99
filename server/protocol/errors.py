"""The one error type the protocol modules raise, and the error codes of ``/v1/stream``."""

from __future__ import annotations

from enum import StrEnum


class ErrorCode(StrEnum):
    """Machine-readable ``code`` of a ``/v1/stream`` ``error`` message."""

    UNAUTHORIZED = "unauthorized"
    BUSY = "busy"
    BAD_AUDIO = "bad_audio"
    BAD_MESSAGE = "bad_message"
    TOO_LARGE = "too_large"
    IDLE_TIMEOUT = "idle_timeout"
    BACKEND_UNAVAILABLE = "backend_unavailable"
    INTERNAL = "internal"

    @property
    def close_code(self) -> int:
        """WebSocket close code sent after an ``error`` with this code."""
        return _CLOSE_CODES[self]


_CLOSE_CODES = {
    ErrorCode.UNAUTHORIZED: 1008,
    ErrorCode.BUSY: 1013,
    ErrorCode.BAD_AUDIO: 1007,
    ErrorCode.BAD_MESSAGE: 1008,
    ErrorCode.TOO_LARGE: 1009,
    ErrorCode.IDLE_TIMEOUT: 1000,
    ErrorCode.BACKEND_UNAVAILABLE: 1011,
    ErrorCode.INTERNAL: 1011,
}


class ProtocolError(ValueError):
    """Malformed or unexpected input on a wire. ``code`` says which rule it broke."""

    def __init__(self, message: str, code: ErrorCode = ErrorCode.BAD_MESSAGE) -> None:
        super().__init__(message)
        self.code = code


class UnknownMessageType(ProtocolError):
    """A well-formed message of a type this version does not know (a peer's newer extension).

    Peers may skip it instead of failing; everything else malformed is a plain ProtocolError.
    """

    def __init__(self, kind: object) -> None:
        super().__init__(f"unknown message type {kind!r}")
        self.kind = kind
