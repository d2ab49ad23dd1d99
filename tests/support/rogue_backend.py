"""Backends that misbehave on purpose: garbage after Ready, or a close mid-stream."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from websockets.asyncio.server import ServerConnection, serve

from server.protocol import moshi


@asynccontextmanager
async def rogue_backend(after_frames: int, action: str) -> AsyncIterator[str]:
    """A backend that sends Ready, reads ``after_frames`` frames, then does ``action``:
    ``garbage`` (a frame that is not msgpack), ``close`` (closes the socket) or
    ``error`` (an Error message)."""

    async def handle(ws: ServerConnection) -> None:
        await ws.send(moshi.encode(moshi.Ready()))
        for _ in range(after_frames):
            await ws.recv()
        if action == "garbage":
            await ws.send(b"\xc1\xff not msgpack")
            await ws.wait_closed()
        elif action == "error":
            await ws.send(moshi.encode(moshi.Error("model crashed")))
            await ws.close()
        else:
            await ws.close(1011)

    async with serve(handle, "127.0.0.1", 0) as server:
        port = server.sockets[0].getsockname()[1]
        yield f"ws://127.0.0.1:{port}{moshi.PATH}"
