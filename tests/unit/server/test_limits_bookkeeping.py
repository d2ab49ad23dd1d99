"""The proxy's brakes as pure bookkeeping (server/proxy/limits.py)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from server.proxy.limits import AudioBudget, ConnectionCounter, FailedAuthLimiter


@given(st.lists(st.floats(0.0, 2.0), min_size=1, max_size=200), st.floats(1.0, 16.0))
def test_audio_up_to_the_speed_limit_never_waits(chunks: list[float], speed: float) -> None:
    budget, now = AudioBudget(speed, burst=2.0, now=0.0), 0.0  # a burst of one chunk
    for seconds in chunks:
        now += seconds / speed  # sent exactly as fast as allowed
        assert budget.take(seconds, now) <= 1e-9


@given(st.lists(st.floats(0.01, 2.0), min_size=1, max_size=200), st.floats(1.0, 16.0))
def test_audio_sent_at_once_is_held_to_the_speed_after_the_burst(
    chunks: list[float], speed: float
) -> None:
    burst = 5.0
    budget, now = AudioBudget(speed, burst, now=0.0), 0.0
    for seconds in chunks:  # the client sends the next chunk as soon as it is let
        now += budget.take(seconds, now)
    # By the time the last chunk may go on, the time passed covers what exceeded the burst.
    assert now * speed + burst >= sum(chunks) - 1e-6


def test_failed_auth_locks_an_address_out_for_the_window_only() -> None:
    limiter = FailedAuthLimiter(limit=3, window=60.0)
    for t in (0.0, 1.0, 2.0):
        assert limiter.retry_after("a", t) == 0
        limiter.record("a", t)
    assert limiter.retry_after("a", 3.0) == 57.0  # until the first of the three is 60 s old
    assert limiter.retry_after("b", 3.0) == 0  # another address is not affected
    assert limiter.retry_after("a", 60.0) == 0


def test_connections_are_counted_per_key_and_given_back() -> None:
    counter = ConnectionCounter(limit=2)
    assert counter.acquire("t")
    assert counter.acquire("t")
    assert not counter.acquire("t")
    assert counter.acquire("u")
    counter.release("t")
    assert counter.acquire("t")
    for key in ("t", "t", "u"):
        counter.release(key)
    assert len(counter) == 0
