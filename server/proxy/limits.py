"""Brakes on abuse, as pure bookkeeping (the server and the relay apply them; docs/SECURITY.md
lists them): failed auth attempts per address, concurrent connections per key, and a stream's
audio against real time. Times are ``time.monotonic()`` seconds, passed in."""

from __future__ import annotations

from collections import Counter, deque

_SWEEP_EVERY = 1024  # failed attempts between sweeps of addresses that have gone quiet


class FailedAuthLimiter:
    """More than ``limit`` failed attempts from one address within ``window`` seconds lock it
    out until the oldest of them is ``window`` old."""

    def __init__(self, limit: int, window: float) -> None:
        self._limit = limit
        self._window = window
        self._failures: dict[str, deque[float]] = {}
        self._since_sweep = 0

    def retry_after(self, address: str, now: float) -> float:
        """Seconds until ``address`` may try again; 0 when it may now."""
        failures = self._recent(address, now)
        if len(failures) < self._limit:
            return 0.0
        return failures[0] + self._window - now

    def record(self, address: str, now: float) -> None:
        self._failures.setdefault(address, deque()).append(now)
        self._recent(address, now)
        self._since_sweep += 1
        if self._since_sweep >= _SWEEP_EVERY:  # memory stays bounded by the active addresses
            self._since_sweep = 0
            for quiet in [a for a in self._failures if not self._recent(a, now)]:
                del self._failures[quiet]

    def _recent(self, address: str, now: float) -> deque[float]:
        failures = self._failures.get(address, deque())
        while failures and failures[0] <= now - self._window:
            failures.popleft()
        while len(failures) > self._limit:  # older ones say nothing more
            failures.popleft()
        return failures


class ConnectionCounter:
    """Open connections per key (a token, or an address where auth is off)."""

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._open: Counter[str] = Counter()

    def acquire(self, key: str) -> bool:
        """Count one more connection for ``key``; False (and nothing counted) at the limit."""
        if self._open[key] >= self._limit:
            return False
        self._open[key] += 1
        return True

    def release(self, key: str) -> None:
        self._open[key] -= 1
        if self._open[key] <= 0:
            del self._open[key]

    def __len__(self) -> int:
        return len(self._open)


class AudioBudget:
    """A token bucket of audio seconds: ``burst`` seconds at once, refilled at ``speed`` x real
    time. A stream at real time (or up to ``speed``) never waits; one far faster is slowed to
    ``speed`` on average once it is ``burst`` seconds ahead."""

    def __init__(self, speed: float, burst: float, now: float) -> None:
        self._speed = speed
        self._burst = burst
        self._level = burst
        self._updated = now

    def take(self, seconds: float, now: float) -> float:
        """Spend ``seconds`` of audio; returns how long to wait before taking more (0: none)."""
        self._level = min(self._burst, self._level + (now - self._updated) * self._speed)
        self._updated = now
        self._level -= seconds
        return 0.0 if self._level >= 0 else -self._level / self._speed
