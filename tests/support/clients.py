"""Plain WebSocket clients of ``/v1/stream`` for tests, written against the wire, not our client."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field

import numpy as np
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from server.protocol.audio import FRAME_SAMPLES, FRAME_SECONDS


@dataclass
class Transcript:
    """Everything a client received, in order, and how the connection closed."""

    messages: list[dict[str, object]] = field(default_factory=list)
    close_code: int | None = None

    @property
    def words(self) -> list[str]:
        return [str(m["text"]).strip() for m in self.messages if m["type"] == "token"]

    @property
    def types(self) -> list[str]:
        return [str(m["type"]) for m in self.messages if m["type"] != "ping"]

    def errors(self) -> list[str]:
        return [str(m.get("code")) for m in self.messages if m["type"] == "error"]


async def receive_all(ws: object, transcript: Transcript) -> None:
    try:
        async for text in ws:  # type: ignore[attr-defined]
            transcript.messages.append(json.loads(text))
    except ConnectionClosed:
        pass
    transcript.close_code = ws.close_code  # type: ignore[attr-defined]


async def stream_audio(
    url: str,
    audio: np.ndarray,
    *,
    speed: float = 4.0,
    chunk: int = FRAME_SAMPLES,
    send_end: bool = True,
    headers: dict[str, str] | None = None,
    timeout: float = 60.0,
) -> Transcript:
    """Send ``audio`` in chunks at ``speed`` x real time, then ``end``; collect the replies."""
    transcript = Transcript()
    async with connect(url, additional_headers=headers) as ws:
        receiver = asyncio.create_task(receive_all(ws, transcript))
        pause = chunk / FRAME_SAMPLES * FRAME_SECONDS / speed
        for start in range(0, len(audio), chunk):
            await ws.send(np.asarray(audio[start : start + chunk], "<f4").tobytes())
            await asyncio.sleep(pause)
        if send_end:
            await ws.send(json.dumps({"type": "end"}))
        await asyncio.wait_for(receiver, timeout)
    return transcript


async def seed_style_client(url: str, audio: np.ndarray, timeout: float = 60.0) -> Transcript:
    """The original protocol's client: one big binary message, then read until the close."""
    transcript = Transcript()
    async with connect(url, max_size=None) as ws:
        await ws.send(np.asarray(audio, "<f4").tobytes())
        await asyncio.wait_for(receive_all(ws, transcript), timeout)
    return transcript


async def eventually(condition: object, timeout: float = 3.0) -> bool:
    """Poll ``condition()`` until it is true or ``timeout`` passes; return its last value."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():  # type: ignore[operator]
        if asyncio.get_running_loop().time() > deadline:
            return False
        await asyncio.sleep(0.02)
    return True
