"""Transcribe audio that was kept (a dictation whose backend failed): send it once, unpaced,
to the backend configured now, and return its words as one text. Types nothing."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import numpy as np
import numpy.typing as npt

from app.backend.stream import ConnectStream
from app.backend.stream_runner import run_stream
from app.core.endpoint import Endpoint
from app.core.spacing import Spacer
from server.protocol.audio import FRAME_SAMPLES
from server.protocol.stream import ServerMessage, Token

CHUNK_SAMPLES = 12 * FRAME_SAMPLES  # about 1 s a message


async def transcribe_samples(
    connect: ConnectStream,
    endpoint: Endpoint,
    samples: npt.NDArray[np.float32],
    open_timeout: float = 60.0,
    drain_timeout: float = 60.0,
) -> str:
    """The words of ``samples`` (24 kHz mono), spaced as a dictation types them.

    Raises :class:`~app.backend.stream_client.StreamClientError` when the backend fails."""
    spacer, parts = Spacer(), []

    def on_message(message: ServerMessage) -> None:
        if isinstance(message, Token):
            parts.append(spacer.text_for(message.text))

    async def chunks() -> AsyncIterator[npt.NDArray[np.float32]]:
        for start in range(0, len(samples), CHUNK_SAMPLES):
            yield samples[start : start + CHUNK_SAMPLES]
            await asyncio.sleep(0)

    async with connect(endpoint, open_timeout) as stream:
        await run_stream(stream, chunks(), on_message, drain_timeout=drain_timeout)
    return "".join(parts)
