"""First Ctrl-C asks politely, the second aborts."""

from __future__ import annotations

import asyncio
import signal

import pytest

from app.cli.interrupt import first_interrupt_calls


async def test_first_interrupt_calls_back_second_raises() -> None:
    before = signal.getsignal(signal.SIGINT)
    called = asyncio.Event()
    with first_interrupt_calls(called.set):
        signal.raise_signal(signal.SIGINT)
        await asyncio.wait_for(called.wait(), 2)
        with pytest.raises(KeyboardInterrupt):
            signal.raise_signal(signal.SIGINT)
    assert signal.getsignal(signal.SIGINT) is before
