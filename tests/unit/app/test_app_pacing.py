"""Frames cut from an array and released on a fixed real-time schedule."""

from __future__ import annotations

import asyncio
import math

import numpy as np
import pytest

from app.audio.pacing import paced_frames, until_set
from server.protocol.audio import FRAME_SAMPLES, FRAME_SECONDS


class FakeClock:
    """A clock that only moves when slept on (or moved by hand)."""

    def __init__(self) -> None:
        self.now = 100.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def ramp(n: int) -> np.ndarray:
    return np.arange(n, dtype=np.float32)


async def test_frames_are_exact_in_count_and_order() -> None:
    samples = ramp(5 * FRAME_SAMPLES + 123)
    frames = [frame async for frame in paced_frames(samples, math.inf)]
    assert [len(f) for f in frames] == [FRAME_SAMPLES] * 5 + [123]
    np.testing.assert_array_equal(np.concatenate(frames), samples)


async def test_whole_frames_only() -> None:
    frames = [frame async for frame in paced_frames(ramp(2 * FRAME_SAMPLES), 0)]
    assert [len(f) for f in frames] == [FRAME_SAMPLES, FRAME_SAMPLES]


async def test_empty_input_gives_no_frames() -> None:
    assert [frame async for frame in paced_frames(ramp(0), 1.0)] == []


async def test_schedule_at_real_time_divided_by_rtf() -> None:
    clock = FakeClock()
    released = [
        clock.now
        async for _ in paced_frames(ramp(4 * FRAME_SAMPLES), 2.0, clock=clock, sleep=clock.sleep)
    ]
    interval = FRAME_SECONDS / 2.0
    assert released == pytest.approx([100.0 + i * interval for i in range(4)])


async def test_a_slow_consumer_does_not_push_the_schedule_back() -> None:
    clock = FakeClock()
    released = []
    async for _ in paced_frames(ramp(6 * FRAME_SAMPLES), 1.0, clock=clock, sleep=clock.sleep):
        released.append(clock.now - 100.0)
        if len(released) == 2:
            clock.now += 2.5 * FRAME_SECONDS  # the consumer stalls for 200 ms
    # Frames 2 and 3 are late and go at once; from frame 4 on the original schedule holds.
    expected = [0, 1, 3.5, 3.5, 4, 5]
    assert released == pytest.approx([i * FRAME_SECONDS for i in expected])


async def test_unpaced_never_waits() -> None:
    clock = FakeClock()
    async for _ in paced_frames(ramp(3 * FRAME_SAMPLES), 0, clock=clock, sleep=clock.sleep):
        pass
    assert clock.sleeps == [0.0, 0.0, 0.0]


async def test_the_default_clock_holds_frames_back_on_the_event_loop() -> None:
    # An order of events, not a duration: a timer set on the loop for 2.5 frame intervals
    # before pacing starts fires before frame 3 is due (the loop runs due timers in deadline
    # order, and asyncio.sleep never returns early), however slow or loaded the machine.
    events: list[str] = []
    fired = asyncio.Event()

    def timer() -> None:
        events.append("timer")
        fired.set()

    asyncio.get_running_loop().call_later(2.5 * FRAME_SECONDS / 8.0, timer)
    async for _ in paced_frames(ramp(5 * FRAME_SAMPLES), 8.0):
        events.append("frame")
    await fired.wait()  # unpaced, every frame would come before it
    assert events.count("frame") == 5
    assert events.index("timer") <= 3  # frames 0, 1 and 2 at most came first


@pytest.mark.parametrize("rtf", [-1.0, math.nan])
async def test_bad_rtf(rtf: float) -> None:
    with pytest.raises(ValueError, match="rtf"):
        async for _ in paced_frames(ramp(10), rtf):
            pass


async def test_until_set_stops_before_the_next_frame() -> None:
    stop = asyncio.Event()
    got = []
    async for frame in until_set(stop, paced_frames(ramp(5 * FRAME_SAMPLES), 0)):
        got.append(frame)
        if len(got) == 2:
            stop.set()
    assert len(got) == 2
