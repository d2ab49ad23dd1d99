"""A protocol-faithful stand-in for moshi-server's ``/api/asr-streaming`` (test use only).

Reproduces what the Rust server does that clients rely on (PROTOCOL.md section 2):
- 401 before the upgrade without a valid ``kyutai-api-key`` header or ``auth_id`` query;
- a fixed number of batch slots; when all are busy the socket is accepted, then
  ``Error "no free channels"`` and close;
- one model loop for all slots, one step every ``step_seconds``; each step takes at most one
  message per slot and processes at most one frame per slot (audio beyond a frame in one
  message is carried over), sends a ``Step`` (1B-style models only) and the words that are
  due; the step counter is global and advances only when some slot had audio;
- ``Ready`` at the first step after the connection (after ``warmup_seconds`` on a cold server);
- ``Word``/``EndWord`` only ``delay`` frames after the audio they belong to, and only while
  audio keeps arriving; ``Marker`` echoed ``delay`` + carried-over frames global steps after it
  is read, even if its own stream sent nothing since (other streams drive the batch);
- an undecodable binary frame ends the session; text frames are ignored;
- WebSocket ping after 10 s without output; session dropped after 20 s without any frame or
  120 s without audio (both configurable).

Words come from :mod:`tests.support.recognizer` (PocketSphinx over the received audio).
Run standalone with ``python -m tests.support.moshi_double --help``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import time
from collections import deque
from dataclasses import dataclass, field
from http import HTTPStatus
from urllib.parse import parse_qs, urlsplit

import numpy as np
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from server.protocol import ProtocolError, moshi
from server.protocol.audio import FRAME_SAMPLES, FRAME_SECONDS, Reframer
from tests.support.recognizer import RecognizedWord, StreamRecognizer, emit_step

log = logging.getLogger("moshi-double")


@dataclass
class DoubleConfig:
    sentences: list[str]
    slots: int = 4
    delay_frames: int = 6  # 1B: 6, 2.6B: 32
    extra_heads: bool = True  # 1B-style Step messages with pause probabilities
    step_seconds: float = FRAME_SECONDS
    warmup_seconds: float = 0.0
    api_keys: frozenset[str] = frozenset({"public_token"})
    path: str = moshi.PATH
    ping_after: float = 10.0
    drop_without_frames: float = 20.0
    drop_without_audio: float = 120.0


@dataclass
class _Channel:
    ws: ServerConnection
    recognizer: StreamRecognizer
    inbox: deque[moshi.ClientMessage] = field(default_factory=deque)
    reframer: Reframer = field(default_factory=Reframer)
    carry: deque[np.ndarray] = field(default_factory=deque)  # frames beyond one per message
    ready_sent: bool = False
    steps: int = 0
    due_words: deque[tuple[int, RecognizedWord]] = field(default_factory=deque)
    last_word: RecognizedWord | None = None
    markers: list[tuple[int, int]] = field(default_factory=list)  # (due step, id)
    closed: asyncio.Event = field(default_factory=asyncio.Event)
    last_frame: float = field(default_factory=time.monotonic)
    last_audio: float = field(default_factory=time.monotonic)
    last_output: float = field(default_factory=time.monotonic)


class MoshiDouble:
    """The server; use ``async with MoshiDouble(config) as double:`` then ``double.url``."""

    def __init__(self, config: DoubleConfig, host: str = "127.0.0.1", port: int = 0) -> None:
        self.config = config
        self._host, self._port = host, port
        self._recognizers = [StreamRecognizer(config.sentences) for _ in range(config.slots)]
        self._channels: list[_Channel | None] = [None] * config.slots
        self._server: Server | None = None
        self._loop_task: asyncio.Task[None] | None = None
        self._global_step = 0
        self.received_frames = 0  # audio frames processed, all channels
        self.non_finite_samples = 0  # NaN or inf seen in processed audio
        self.peak = 0.0  # largest absolute sample value processed
        self.sessions_started = 0

    @property
    def port(self) -> int:
        assert self._server is not None
        port: int = self._server.sockets[0].getsockname()[1]
        return port

    @property
    def url(self) -> str:
        return f"ws://{self._host}:{self.port}{self.config.path}"

    @property
    def busy_slots(self) -> int:
        return sum(c is not None for c in self._channels)

    async def __aenter__(self) -> MoshiDouble:
        self._server = await serve(
            self._handle,
            self._host,
            self._port,
            process_request=self._check_request,
            ping_interval=None,
            max_size=2**24,
        )
        self._loop_task = asyncio.create_task(self._model_loop())
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        if self._loop_task:
            self._loop_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._loop_task
        if self._server:
            self._server.close()
            await self._server.wait_closed()

    def _check_request(self, connection: ServerConnection, request: Request) -> Response | None:
        url = urlsplit(request.path)
        if url.path != self.config.path:
            return connection.respond(HTTPStatus.NOT_FOUND, "not found\n")
        key = request.headers.get(moshi.API_KEY_HEADER) or next(
            iter(parse_qs(url.query).get("auth_id", [])), None
        )
        if key not in self.config.api_keys:
            return Response(401, "Unauthorized", Headers(), b"")
        return None

    async def _handle(self, ws: ServerConnection) -> None:
        try:
            slot = self._channels.index(None)
        except ValueError:
            await ws.send(moshi.encode(moshi.Error(moshi.NO_FREE_CHANNELS)))
            await ws.close()
            return
        recognizer = self._recognizers[slot]
        recognizer.reset()
        channel = _Channel(ws, recognizer)
        self._channels[slot] = channel
        self.sessions_started += 1
        watchdog = asyncio.create_task(self._watchdog(channel))
        try:
            await self._read(channel)
        finally:
            watchdog.cancel()
            channel.closed.set()
            self._channels[slot] = None

    async def _read(self, channel: _Channel) -> None:
        try:
            async for data in channel.ws:
                channel.last_frame = time.monotonic()
                if isinstance(data, str):
                    continue  # text frames are ignored, as in moshi-server
                try:
                    message = moshi.decode_client(data)
                except ProtocolError as exc:
                    log.info("undecodable frame, ending session: %s", exc)
                    return
                if isinstance(message, moshi.Audio):
                    channel.last_audio = channel.last_frame
                channel.inbox.append(message)
        except ConnectionClosed:
            pass

    async def _watchdog(self, channel: _Channel) -> None:
        cfg = self.config
        while True:
            await asyncio.sleep(min(cfg.ping_after, cfg.drop_without_frames) / 4)
            now = time.monotonic()
            if now - channel.last_frame > cfg.drop_without_frames or (
                now - channel.last_audio > cfg.drop_without_audio
            ):
                log.info("dropping idle session")
                await channel.ws.close()
                return
            if now - channel.last_output > cfg.ping_after:
                channel.last_output = now
                with contextlib.suppress(ConnectionClosed):
                    await channel.ws.ping()

    async def _model_loop(self) -> None:
        """One batch step at a time, like moshi-server's model loop: every channel takes at
        most one message and processes at most one frame; the step counter is global and only
        advances on steps where some channel had audio; markers fall due on it."""
        await asyncio.sleep(self.config.warmup_seconds)
        next_tick = time.monotonic()
        while True:
            outputs: dict[int, list[moshi.ServerMessage]] = {}
            processed = False
            for slot, channel in enumerate(self._channels):
                if channel is not None and not channel.closed.is_set():
                    outputs[slot], had_audio = self._step(channel)
                    processed |= had_audio
            if processed:
                self._global_step += 1
                for slot, channel in enumerate(self._channels):
                    if channel is not None and slot in outputs:
                        outputs[slot] += self._due_markers(channel)
            for slot, messages in outputs.items():
                channel = self._channels[slot]
                if messages and channel is not None:
                    await self._send(channel, messages)
            next_tick += self.config.step_seconds
            await asyncio.sleep(max(0.0, next_tick - time.monotonic()))

    def _step(self, channel: _Channel) -> tuple[list[moshi.ServerMessage], bool]:
        """One model step for one channel: its messages, and whether it processed audio."""
        out: list[moshi.ServerMessage] = []
        if not channel.ready_sent:
            channel.ready_sent = True
            out.append(moshi.Ready())
        message = channel.inbox.popleft() if channel.inbox else None
        if isinstance(message, moshi.Marker):
            # Due once the audio still carried over and the model delay have been processed.
            due = self._global_step + self.config.delay_frames + len(channel.carry)
            channel.markers.append((due, message.id))
            return out, False
        if isinstance(message, moshi.Init):
            channel.recognizer.reset()
            return out, False
        if isinstance(message, moshi.Audio):
            channel.carry.extend(channel.reframer.push(message.samples()))
        if not channel.carry:
            return out, False
        out.extend(self._process_frame(channel, channel.carry.popleft()))
        return out, True

    def _due_markers(self, channel: _Channel) -> list[moshi.ServerMessage]:
        due = sorted(m for m in channel.markers if m[0] <= self._global_step)
        channel.markers = [m for m in channel.markers if m[0] > self._global_step]
        return [moshi.Marker(marker_id) for _, marker_id in due]

    def _process_frame(self, channel: _Channel, frame: np.ndarray) -> list[moshi.ServerMessage]:
        self.received_frames += 1
        finite = np.isfinite(frame)
        self.non_finite_samples += int(len(frame) - finite.sum())
        self.peak = max(self.peak, float(np.abs(frame[finite]).max(initial=0.0)))
        channel.steps += 1
        for word in channel.recognizer.feed(frame):
            channel.due_words.append((emit_step(word, self.config.delay_frames), word))
        out: list[moshi.ServerMessage] = []
        if self.config.extra_heads:
            # Like moshi-server: only audio carried over from oversized messages counts.
            buffered = len(channel.carry) * FRAME_SAMPLES + channel.reframer.pending_samples
            pause = channel.recognizer.pause_probabilities()
            out.append(moshi.Step(self._global_step + 1, pause, buffered))
        while channel.due_words and channel.due_words[0][0] <= channel.steps:
            _, word = channel.due_words.popleft()
            if channel.last_word is not None:
                out.append(moshi.EndWord(channel.last_word.end))
            out.append(moshi.Word(word.text, word.start))
            channel.last_word = word
        return out

    async def _send(self, channel: _Channel, messages: list[moshi.ServerMessage]) -> None:
        channel.last_output = time.monotonic()
        try:
            for message in messages:
                await channel.ws.send(moshi.encode(message))
        except ConnectionClosed:
            channel.closed.set()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8998)
    parser.add_argument("--sentences", required=True, help="file with one test sentence a line")
    parser.add_argument("--slots", type=int, default=4)
    parser.add_argument("--model", choices=("1b", "2.6b"), default="1b")
    parser.add_argument("--step-ms", type=float, default=80.0)
    parser.add_argument("--warmup", type=float, default=0.0)
    args = parser.parse_args()
    with open(args.sentences, encoding="utf-8") as f:
        sentences = [line.strip() for line in f if line.strip()]
    config = DoubleConfig(
        sentences,
        slots=args.slots,
        delay_frames=6 if args.model == "1b" else 32,
        extra_heads=args.model == "1b",
        step_seconds=args.step_ms / 1000,
        warmup_seconds=args.warmup,
    )
    logging.basicConfig(level=logging.INFO)

    async def run() -> None:
        async with MoshiDouble(config, args.host, args.port) as double:
            log.info("listening on %s", double.url)
            await asyncio.Event().wait()

    asyncio.run(run())


if __name__ == "__main__":
    main()
