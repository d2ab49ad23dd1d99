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
from app.core.voice_edits import VoiceEditConfig, apply_edits, transform_offline
from server.protocol.audio import FRAME_SAMPLES
from server.protocol.stream import ServerMessage, Token, VadEnd

CHUNK_SAMPLES = 12 * FRAME_SAMPLES  # about 1 s a message


async def transcribe_samples(
    connect: ConnectStream,
    endpoint: Endpoint,
    samples: npt.NDArray[np.float32],
    open_timeout: float = 60.0,
    drain_timeout: float = 60.0,
    voice: VoiceEditConfig | None = None,
) -> str:
    """The text of ``samples`` (24 kHz mono) as a dictation would have left it: spaced, and
    with ``voice``'s commands and replacements applied (none by default).

    Raises :class:`~app.backend.stream_client.StreamClientError` when the backend fails."""
    words: list[tuple[str, float]] = []
    vad_after: list[int] = []  # indexes of the words a vad_end followed

    def on_message(message: ServerMessage) -> None:
        if isinstance(message, Token):
            words.append((message.text, message.start or 0.0))
        elif isinstance(message, VadEnd) and words:
            vad_after.append(len(words) - 1)

    async def chunks() -> AsyncIterator[npt.NDArray[np.float32]]:
        for start in range(0, len(samples), CHUNK_SAMPLES):
            yield samples[start : start + CHUNK_SAMPLES]
            await asyncio.sleep(0)

    async with connect(endpoint, open_timeout) as stream:
        await run_stream(stream, chunks(), on_message, drain_timeout=drain_timeout)
    config = voice or VoiceEditConfig(commands=False)
    return apply_edits("", transform_offline(words, config, vad_after))
