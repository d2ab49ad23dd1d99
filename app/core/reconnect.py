"""Reconnection policy: a backoff schedule, and which failures are worth retrying.

Pure: the caller sleeps and reconnects. A failure the user must fix (a refused key, a bad
URL, audio the server rejects) is fatal: shown, never retried in a loop.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from enum import Enum

from server.protocol import ErrorCode

# Close codes after which a new connection may succeed (RFC 6455 and the proxy's codes).
_RETRYABLE_CLOSE_CODES = {1001, 1006, 1011, 1012, 1013, 1014}
_RETRYABLE_ERROR_CODES = {ErrorCode.BUSY, ErrorCode.BACKEND_UNAVAILABLE, ErrorCode.INTERNAL}


class Verdict(Enum):
    RETRY = "retry"
    FATAL = "fatal"


def backoff(
    first: float = 0.5, factor: float = 2.0, cap: float = 10.0, jitter: float = 0.1
) -> Iterator[float]:
    """Endless delays: ``first``, then ``factor`` times longer up to ``cap``, each spread by
    up to ``jitter`` of itself so that many clients do not retry in step."""
    delay = first
    while True:
        yield delay * (1 + random.uniform(-jitter, jitter))
        delay = min(delay * factor, cap)


def classify_error(code: ErrorCode | None) -> Verdict:
    """An ``error`` message from the server: retry or give up?"""
    return Verdict.RETRY if code in _RETRYABLE_ERROR_CODES else Verdict.FATAL


def classify_http_status(status: int) -> Verdict:
    """An HTTP answer to the WebSocket handshake (401, 404, 502...)."""
    return Verdict.RETRY if status in (408, 425, 429) or status >= 500 else Verdict.FATAL


def classify_close(code: int | None) -> Verdict:
    """A connection that closed without an ``error`` message (None: dropped, no close frame)."""
    return Verdict.RETRY if code is None or code in _RETRYABLE_CLOSE_CODES else Verdict.FATAL
