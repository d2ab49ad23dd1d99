"""Cut samples into 80 ms frames and hand them out at a multiple of real time."""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable

from server.protocol.audio import FRAME_SAMPLES, SAMPLE_RATE, Samples


async def paced_frames(
    samples: Samples,
    rtf: float = 1.0,
    *,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> AsyncIterator[Samples]:
    """Yield ``samples`` in 1920-sample frames (views; the last may be shorter).

    Frame ``i`` is released at ``start + i * 80 ms / rtf``, where ``start`` is the first
    request: a fixed schedule, so a slow consumer does not push later frames back. ``rtf`` of
    0 or infinity means as fast as possible (yielding to the event loop between frames).
    """
    if math.isnan(rtf) or rtf < 0:
        raise ValueError(f"rtf must be >= 0 (0 or inf: no pacing), got {rtf}")
    interval = 0.0 if rtf == 0 or math.isinf(rtf) else FRAME_SAMPLES / SAMPLE_RATE / rtf
    start = clock()
    for index, begin in enumerate(range(0, len(samples), FRAME_SAMPLES)):
        delay = start + index * interval - clock() if interval else 0.0
        await sleep(max(delay, 0.0))
        yield samples[begin : begin + FRAME_SAMPLES]


async def until_set(event: asyncio.Event, frames: AsyncIterable[Samples]) -> AsyncIterator[Samples]:
    """Pass ``frames`` through, ending early once ``event`` is set."""
    async for frame in frames:
        if event.is_set():
            return
        yield frame
