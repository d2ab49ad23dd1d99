"""Drive one open stream: send frames then ``end`` while handing every server message on."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterable, Callable

from app.backend.stream import Stream
from app.backend.stream_client import StreamClientError, StreamClosed
from server.protocol.audio import Samples
from server.protocol.stream import ServerMessage


class DrainTimeout(StreamClientError):
    """The server did not answer ``end`` in time."""


async def run_stream(
    stream: Stream,
    frames: AsyncIterable[Samples],
    on_message: Callable[[ServerMessage], None],
    *,
    drain_timeout: float | None = 30.0,
) -> None:
    """Send every frame, then ``end``; meanwhile pass each message to ``on_message``.

    Returns once the server's ``End`` has been passed on. A server failure wins over the send
    failure it causes: :class:`StreamError`/:class:`StreamClosed` come from the receiving side.
    Raises :class:`DrainTimeout` if ``End`` does not come within ``drain_timeout`` seconds of
    the last frame; an exception from ``frames`` propagates.
    """
    receiver = asyncio.create_task(_receive(stream, on_message))
    sender = asyncio.create_task(_send(stream, frames))
    try:
        await asyncio.wait({sender, receiver}, return_when=asyncio.FIRST_COMPLETED)
        if not receiver.done():
            sender.result()  # the frames source failed: propagate that
            done, _ = await asyncio.wait({receiver}, timeout=drain_timeout)
            if not done:
                raise DrainTimeout(f"no answer to end within {drain_timeout} s")
        receiver.result()
        if sender.done() and not sender.cancelled():
            sender.result()
    finally:
        for task in (sender, receiver):
            task.cancel()
        # Wait for both to finish; their outcome was already reported (or is moot).
        await asyncio.gather(sender, receiver, return_exceptions=True)


async def _send(stream: Stream, frames: AsyncIterable[Samples]) -> None:
    try:
        async for frame in frames:
            await stream.send_audio(frame)
        await stream.end()
    except StreamClosed:
        pass  # the receiving side reports why the connection ended


async def _receive(stream: Stream, on_message: Callable[[ServerMessage], None]) -> None:
    async for message in stream.messages():
        on_message(message)
