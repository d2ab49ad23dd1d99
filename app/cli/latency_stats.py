"""Latency figures of benchmark streams (pure): per-stream values and min/median/p95/max."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class StreamTimes:
    """``time.monotonic()`` instants of one stream; None where the moment never came."""

    started: float
    connected: float | None = None
    first_audio: float | None = None
    last_audio: float | None = None
    end_sent: float | None = None
    first_token: float | None = None
    last_token: float | None = None
    end_received: float | None = None


@dataclass(frozen=True, slots=True)
class StreamResult:
    """One benchmark stream: latencies in milliseconds (None: not measurable), words, error.

    - ``connect_ms``: opening the WebSocket, handshake included.
    - ``first_token_ms``: first audio frame sent -> first token received.
    - ``end_ms``: last audio frame sent -> last token received (negative when every word came
      before the audio ended, e.g. trailing silence).
    - ``flush_ms``: ``end`` sent -> the server's ``end`` received.
    """

    run: int
    stream: int
    words: int
    error: str | None
    connect_ms: float | None
    first_token_ms: float | None
    end_ms: float | None
    flush_ms: float | None

    @property
    def ok(self) -> bool:
        """Whether the stream ended with the server's ``end`` and no error."""
        return self.error is None


METRICS: tuple[tuple[str, str], ...] = (
    ("connect_ms", "connect"),
    ("first_token_ms", "first token"),
    ("end_ms", "end (last audio -> last word)"),
    ("flush_ms", "flush (end -> end)"),
)


def stream_result(
    run: int, stream: int, times: StreamTimes, words: int, error: str | None
) -> StreamResult:
    """Derive the latencies of one stream from its timestamps."""
    return StreamResult(
        run=run,
        stream=stream,
        words=words,
        error=error,
        connect_ms=_elapsed_ms(times.started, times.connected),
        first_token_ms=_elapsed_ms(times.first_audio, times.first_token),
        end_ms=_elapsed_ms(times.last_audio, times.last_token),
        flush_ms=_elapsed_ms(times.end_sent, times.end_received),
    )


@dataclass(frozen=True, slots=True)
class Summary:
    """Order statistics of a non-empty sample."""

    n: int
    min: float
    median: float
    p95: float
    max: float


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0..100) with linear interpolation between closest ranks
    (numpy's default method). ``values`` must be non-empty and need not be sorted.
    """
    if not values:
        raise ValueError("percentile of no values")
    if not 0 <= q <= 100:
        raise ValueError(f"percentile must be within 0..100, got {q}")
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return _lerp(ordered[low], ordered[high], rank - low)


def summarize(values: Iterable[float | None]) -> Summary | None:
    """Summary of the values that are not None; None when there are none."""
    present = sorted(value for value in values if value is not None)
    if not present:
        return None
    return Summary(
        n=len(present),
        min=present[0],
        median=percentile(present, 50),
        p95=percentile(present, 95),
        max=present[-1],
    )


def summarize_results(results: Sequence[StreamResult]) -> dict[str, Summary | None]:
    """One :class:`Summary` per metric in :data:`METRICS`, over every stream that measured it."""
    return {field: summarize(getattr(r, field) for r in results) for field, _ in METRICS}


def _lerp(a: float, b: float, t: float) -> float:
    """``a + (b - a) * t``, computed from the nearer end so the result stays within [a, b]."""
    if t == 0:
        return a
    diff = b - a
    return a + diff * t if t < 0.5 else b - diff * (1 - t)


def _elapsed_ms(start: float | None, stop: float | None) -> float | None:
    if start is None or stop is None:
        return None
    return (stop - start) * 1000.0
