"""A ``/v1/stream`` server that says scripted words: for tests and benchmarks that need exact
text (any Unicode) or exact timing, which speech recognition cannot give.

It names its protocol in the 101 response like this project's proxy, and can demand
handshake headers, refusing others with HTTP 401 before the upgrade as this project's proxy does
for its bearer token (docs/PROTOCOL.md, Authentication) and Modal's web endpoints do for proxy
auth tokens (``Modal-Key`` / ``Modal-Secret``, modal.com docs, "Proxy auth tokens"). It answers
``ready``, then sends the next scripted word each time ``frames_per_word`` audio frames have
arrived, and on ``end`` sends the words not yet said, then ``end``. It records when each word
was sent (``time.monotonic()``), so a benchmark can time the way to the window. Each word's
``start`` is when its audio began (evenly spaced), or taken from ``starts`` when given (for
pauses between words, which voice commands need). With ``then``, the second session says
the first script of ``then``, the third the next one, and so on (one app run, several
dictations).
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from http import HTTPStatus

from websockets.asyncio.server import ServerConnection, serve
from websockets.http11 import Request, Response

from server.protocol.audio import FRAME_SAMPLES, FRAME_SECONDS
from server.protocol.errors import ProtocolError
from server.protocol.stream import (
    PATH,
    AudioChunk,
    End,
    EndOfAudio,
    Error,
    Ready,
    Token,
    decode_client,
    encode_server,
)
from server.proxy.server import announce_protocol


@dataclass
class ScriptedStream:
    words: Sequence[str]  # each with its leading space, as the model sends them
    frames_per_word: int = 3
    url: str = ""
    sent_at: list[float] = field(default_factory=list)
    end_received_at: float | None = None
    sessions: int = 0
    live: set[ServerConnection] = field(default_factory=set)
    required_headers: Mapping[str, str] = field(default_factory=dict)
    refused: int = 0  # handshakes answered 401
    starts: Sequence[float] | None = None  # each word's ``start``; None: evenly spaced
    then: Sequence[tuple[Sequence[str], Sequence[float]]] = ()  # later sessions' words, starts

    def script(self, session: int) -> tuple[Sequence[str], Sequence[float] | None]:
        """The words and starts the ``session``-th session (from 1) says."""
        if session == 1 or not self.then:
            return self.words, self.starts
        return self.then[min(session - 2, len(self.then) - 1)]

    def _check(self, connection: ServerConnection, request: Request) -> Response | None:
        if all(request.headers.get(k) == v for k, v in self.required_headers.items()):
            return None
        self.refused += 1
        return connection.respond(HTTPStatus.UNAUTHORIZED, "missing or wrong credentials\n")

    def crash_sessions(self) -> None:
        """Drop every open session without a close frame, as a crashed backend would
        (the server keeps listening, as after a restart)."""
        for ws in list(self.live):
            ws.transport.abort()

    async def _handle(self, ws: ServerConnection) -> None:
        self.sessions += 1
        self.live.add(ws)
        try:
            await self._serve(ws)
        finally:
            self.live.discard(ws)

    async def _serve(self, ws: ServerConnection) -> None:
        words, starts = self.script(self.sessions)
        await ws.send(encode_server(Ready()))
        samples, said = 0, 0
        async for data in ws:
            try:
                message = decode_client(data)
            except ProtocolError as exc:  # as the proxy does (server/proxy/relay.py, _fail)
                await ws.send(encode_server(Error(str(exc), exc.code)))
                await ws.close(exc.code.close_code, exc.code.value)
                return
            if isinstance(message, AudioChunk):
                samples += len(message.pcm) // 4
                due = min(len(words), samples // (FRAME_SAMPLES * self.frames_per_word))
                while said < due:
                    await self._say(ws, words, starts, said)
                    said += 1
            elif isinstance(message, EndOfAudio):
                self.end_received_at = time.monotonic()
                while said < len(words):
                    await self._say(ws, words, starts, said)
                    said += 1
                await ws.send(encode_server(End()))
                await ws.close()
                return

    async def _say(
        self,
        ws: ServerConnection,
        words: Sequence[str],
        starts: Sequence[float] | None,
        index: int,
    ) -> None:
        start = FRAME_SECONDS * self.frames_per_word * index  # when its audio began
        if starts is not None:
            start = starts[index]
        await ws.send(encode_server(Token(words[index], start=start)))
        self.sent_at.append(time.monotonic())


@asynccontextmanager
async def scripted_stream(
    words: Sequence[str],
    frames_per_word: int = 3,
    required_headers: Mapping[str, str] = {},
    starts: Sequence[float] | None = None,
    then: Sequence[tuple[Sequence[str], Sequence[float]]] = (),
) -> AsyncIterator[ScriptedStream]:
    """The server on a free loopback port; ``required_headers`` must all be in a handshake."""
    if starts is not None and len(starts) != len(words):
        raise ValueError("one start per word")
    if any(len(w) != len(s) for w, s in then):
        raise ValueError("one start per word")
    script = ScriptedStream(
        words, frames_per_word, required_headers=dict(required_headers), starts=starts, then=then
    )
    async with serve(
        script._handle,
        "127.0.0.1",
        0,
        process_request=script._check,
        process_response=announce_protocol,
    ) as server:
        script.url = f"ws://127.0.0.1:{server.sockets[0].getsockname()[1]}{PATH}"
        yield script
