"""A protocol-faithful stand-in for moshi-server's ``/api/asr-streaming`` (test use only).

Written from kyutai-labs/moshi 0.6.x, ``rust/moshi-server/src/{main.rs,batched_asr.rs}`` and
``rust/moshi-core/src/asr.rs`` (PROTOCOL.md section 2); each behaviour names its source:
- main.rs ``batched_asr_router``: 401 before the upgrade unless the key is authorised; a
  ``kyutai-api-key`` header, when present (even empty), is the key and ``?auth_id=`` is unused;
- main.rs ``modules_info``: ``GET /api/modules_info``, a JSON list with one map of strings
  (``used_slots``, ``total_slots``, ...) for the batched module;
- batched_asr.rs ``handle_socket``: a slot or, when all are taken, ``Error "no free channels"``
  and a close; the server queues an ``Init`` of its own first, answered by ``Ready``; a ping
  after 10 s without output; the session is dropped, without a close frame, after 20 s
  without any frame (pings and pongs count) or at the first frame after 120 s without a binary
  message, or at an undecodable binary message;
- batched_asr.rs ``start_model_loop``/``pre_process``/``post_process``: one loop for all
  slots, after a two-step warm-up; each step takes at most one message per slot (``Init``
  answers ``Ready`` and resets the slot; ``Marker`` falls due ``delay`` + whole frames left
  over steps later) and processes at most one frame (``extend_data``: what is beyond the first
  frame of a message waits, and is all that ``buffered_pcm`` counts); the loop's step counter
  advances only on steps with audio; slots are freed by the loop alone, so a dead loop
  (:meth:`MoshiDouble.kill_model_loop`, ``failed_loop``) keeps them taken for ever;
- moshi-core asr.rs ``State::step_tokens``: ``Step`` with the model's global step counter
  (warm-up included), then words by the text-token rules (:class:`_TextStream`).

Words come from :mod:`tests.support.recognizer` (PocketSphinx over the received audio), laid
out as the model's text stream would carry them. Run standalone with
``python -m tests.support.moshi_double --help``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
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
from websockets.frames import Frame, Opcode
from websockets.http11 import Request, Response

from server.protocol import ProtocolError, moshi
from server.protocol.audio import FRAME_SAMPLES, FRAME_SECONDS
from tests.support.recognizer import RecognizedWord, StreamRecognizer

log = logging.getLogger("moshi-double")

WARMUP_STEPS = 2  # batched_asr.rs ``warmup``: two model steps before the loop starts
MODULES_INFO_PATH = "/api/modules_info"
# Text tokens (kyutai-labs/moshi ``moshi/models/lm.py``: existing_text_padding_id = 3,
# end_of_text_padding_id = 0). The model writes end-of-padding just before a word's pieces.
PAD, EPAD = 3, 0


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
    drop_without_binary: float = 120.0
    failed_loop: bool = False  # the model loop died at start-up with every slot taken


class _TextStream:
    """One slot's text tokens and moshi-core asr.rs ``ItemState``: recognised words are laid
    out as [EPAD, word] at their start frame (later if the recogniser was late), PAD
    elsewhere, and read back ``delay`` steps behind the audio by the rules of
    ``State::step_tokens``."""

    def __init__(self, delay: int) -> None:
        self._delay = delay
        self.reset()

    def reset(self) -> None:
        self.step_idx = 0
        self._tokens: deque[tuple[int, int | str]] = deque()  # (audio frame, token)
        self._next_free = 0
        self._word: list[str] = []
        self._unended_word = False
        self._last_stop_time = 0.0

    def add(self, word: RecognizedWord) -> None:
        slot = max(round(word.start / FRAME_SECONDS) - 1, self._next_free)
        self._tokens += [(slot, EPAD), (slot + 1, word.text)]
        self._next_free = slot + 2

    def step(self) -> list[moshi.ServerMessage]:
        """One processed frame: the Word/EndWord messages it brings."""
        self.step_idx += 1
        if self.step_idx < self._delay:
            return []
        frame = self.step_idx - self._delay
        due: list[int | str] = []
        while self._tokens and self._tokens[0][0] <= frame:  # late words come out at once
            due.append(self._tokens.popleft()[1])
        out: list[moshi.ServerMessage] = []
        for token in due or [PAD]:
            if token in (PAD, EPAD):
                if self._word:
                    out.append(moshi.Word(" ".join(self._word), self._last_stop_time))
                    self._word = []
                    self._unended_word = True
            else:
                self._word.append(str(token))
            if token == EPAD:
                stop_time = frame * FRAME_SECONDS
                if self._unended_word:
                    self._unended_word = False
                    out.append(moshi.EndWord(stop_time))
                self._last_stop_time = stop_time
        return out


class _Connection(ServerConnection):
    """batched_asr.rs's receive loop timeouts: every frame counts for the short one; the long
    one is checked as a frame arrives, against the last binary message before it."""

    last_frame = last_binary = 0.0
    drop_without_binary = float("inf")

    def process_event(self, event: object) -> None:
        if isinstance(event, Frame):
            self.last_frame = time.monotonic()
            if self.last_frame - self.last_binary > self.drop_without_binary:
                log.info("recv loop long timeout")
                _drop(self)
                return
            if event.opcode is Opcode.BINARY:
                self.last_binary = self.last_frame
        super().process_event(event)  # type: ignore[arg-type]


@dataclass
class _Channel:
    ws: _Connection
    recognizer: StreamRecognizer
    text: _TextStream
    inbox: deque[moshi.ClientMessage] = field(default_factory=lambda: deque([moshi.Init()]))
    data: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))
    markers: list[tuple[int, int]] = field(default_factory=list)  # (due step, id)
    closed: asyncio.Event = field(default_factory=asyncio.Event)
    last_output: float = field(default_factory=time.monotonic)

    def extend_data(self, pcm: np.ndarray) -> np.ndarray | None:
        """batched_asr.rs ``Channel::extend_data``: at most one frame out, the rest kept."""
        if not len(self.data) and len(pcm) >= FRAME_SAMPLES:
            self.data = pcm[FRAME_SAMPLES:]
            return pcm[:FRAME_SAMPLES]
        self.data = np.concatenate((self.data, pcm))
        if len(self.data) < FRAME_SAMPLES:
            return None
        frame, self.data = self.data[:FRAME_SAMPLES], self.data[FRAME_SAMPLES:]
        return frame


@dataclass
class MarkerWait:
    """What the model loop did while a session waited for its ``Marker`` (an observation for
    tests of the flush, not a behaviour of moshi-server): loop ticks at which the session had
    a marker pending and a frame to process (``fed``) or none (``idle``), and the most audio
    frames queued behind a pending marker."""

    fed: int = 0
    idle: int = 0
    most_queued: int = 0


class MoshiDouble:
    """The server; use ``async with MoshiDouble(config) as double:`` then ``double.url``."""

    def __init__(self, config: DoubleConfig, host: str = "127.0.0.1", port: int = 0) -> None:
        self.config = config
        self._host, self._port = host, port
        self._recognizers = [StreamRecognizer(config.sentences) for _ in range(config.slots)]
        self._channels: list[_Channel | None] = [None] * config.slots
        self._dead_slots = config.slots if config.failed_loop else 0
        self._server: Server | None = None
        self._loop_task: asyncio.Task[None] | None = None
        self._loop_step = 0  # the loop's own counter (markers)
        self._model_step = WARMUP_STEPS  # moshi-core ``model_step_idx`` (Step messages)
        self.received_frames = 0  # audio frames processed, all channels
        self.arrived_samples = 0  # audio samples received (before the model loop), all channels
        self.non_finite_samples = 0  # NaN or inf seen in processed audio
        self.peak = 0.0  # largest absolute sample value processed
        self.sessions_started = 0
        self.marker_wait = MarkerWait()

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
        return self._dead_slots + sum(c is not None for c in self._channels)

    async def __aenter__(self) -> MoshiDouble:
        self._server = await serve(
            self._handle,
            self._host,
            self._port,
            process_request=self._check_request,
            create_connection=_Connection,
            ping_interval=None,
            max_size=2**24,
        )
        if not self.config.failed_loop:
            self._loop_task = asyncio.create_task(self._model_loop())
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        if self._loop_task:
            self._loop_task.cancel()
        if self._server:
            self._server.close()
            await self._server.wait_closed()

    async def kill(self) -> None:
        """Die as a crashed process does: every connection dropped without a close frame,
        the port closed."""
        if self._server:
            for connection in list(self._server.connections):
                connection.transport.abort()
        await self.close()

    def kill_model_loop(self) -> None:
        """The model loop fails (as a CUDA error would end it): it is logged, nothing else."""
        if self._loop_task:
            self._loop_task.cancel()
            log.error("model_loop task failed")

    def _check_request(self, connection: ServerConnection, request: Request) -> Response | None:
        url = urlsplit(request.path)
        if url.path == MODULES_INFO_PATH:
            return self._modules_info()
        if url.path != self.config.path:
            return connection.respond(HTTPStatus.NOT_FOUND, "not found\n")
        if moshi.API_KEY_HEADER in request.headers:
            key: str | None = request.headers[moshi.API_KEY_HEADER]
        else:
            key = next(iter(parse_qs(url.query).get("auth_id", [])), None)
        if key not in self.config.api_keys:
            return Response(401, "Unauthorized", Headers(), b"")
        return None

    def _modules_info(self) -> Response:
        info = {
            "type": "batched_asr",
            "path": self.config.path,
            "lm": "hf://kyutai/stt-1b-en_fr-candle/model.safetensors",
            "audio_tokenizer": "hf://kyutai/stt-1b-en_fr-candle/mimi-pytorch-e351c8d8@125.safetensors",
            "used_slots": str(self.busy_slots),
            "total_slots": str(self.config.slots),
        }
        body = json.dumps([info]).encode()
        return Response(200, "OK", Headers([("Content-Type", "application/json")]), body)

    async def _handle(self, ws: ServerConnection) -> None:
        assert isinstance(ws, _Connection)
        slot = next((i for i, c in enumerate(self._channels) if c is None), None)
        if slot is None or self.busy_slots >= self.config.slots:
            await ws.send(moshi.encode(moshi.Error(moshi.NO_FREE_CHANNELS)))
            await ws.close()
            return
        ws.last_frame = ws.last_binary = time.monotonic()
        ws.drop_without_binary = self.config.drop_without_binary
        channel = _Channel(ws, self._recognizers[slot], _TextStream(self.config.delay_frames))
        channel.recognizer.reset()
        self._channels[slot] = channel
        self.sessions_started += 1
        watchdog = asyncio.create_task(self._watchdog(channel))
        try:
            await self._read(channel)
        finally:
            watchdog.cancel()
            channel.closed.set()  # the model loop frees the slot at its next step

    async def _read(self, channel: _Channel) -> None:
        try:
            async for data in channel.ws:
                if isinstance(data, str):
                    continue  # text frames are ignored
                try:
                    message = moshi.decode_client(data)
                except ProtocolError as exc:
                    log.info("undecodable frame, ending session: %s", exc)
                    break
                if isinstance(message, moshi.Audio):
                    self.arrived_samples += len(message.pcm) // 4
                channel.inbox.append(message)
        except ConnectionClosed:
            return
        _drop(channel.ws)

    async def _watchdog(self, channel: _Channel) -> None:
        cfg = self.config
        while True:
            await asyncio.sleep(min(cfg.ping_after, cfg.drop_without_frames) / 4)
            now = time.monotonic()
            if now - channel.ws.last_frame > cfg.drop_without_frames:
                log.info("recv loop short timeout")
                _drop(channel.ws)
                return
            if now - channel.last_output > cfg.ping_after:
                channel.last_output = now
                with contextlib.suppress(ConnectionClosed):
                    await channel.ws.ping()

    async def _model_loop(self) -> None:
        """One batch step at a time, as batched_asr.rs's model loop: free the slots of ended
        sessions, take one message per slot, process at most one frame per slot, count the
        step only if some slot had audio, send each slot its messages and due markers."""
        await asyncio.sleep(self.config.warmup_seconds)
        next_tick = time.monotonic()
        while True:
            for slot, channel in enumerate(self._channels):
                if channel is not None and channel.closed.is_set():
                    self._channels[slot] = None
            outputs: dict[int, list[moshi.ServerMessage]] = {}
            active = []
            for slot, channel in enumerate(self._channels):
                if channel is not None:
                    outputs[slot], frame = self._pre_process(channel)
                    if frame is not None:
                        active.append((slot, frame))
                    if channel.markers:
                        self._watch_marker(channel, fed=frame is not None)
            if active:
                self._loop_step += 1
                self._model_step += 1
                for slot, frame in active:
                    channel = self._channels[slot]
                    assert channel is not None
                    outputs[slot] += self._process_frame(channel, frame)
            for slot, messages in outputs.items():
                channel = self._channels[slot]
                if channel is not None:
                    due = messages + self._due_markers(channel)
                    if due:
                        await self._send(channel, due)
            next_tick += self.config.step_seconds
            await asyncio.sleep(max(0.0, next_tick - time.monotonic()))

    def _pre_process(
        self, channel: _Channel
    ) -> tuple[list[moshi.ServerMessage], np.ndarray | None]:
        """One slot's message for this step: what to send at once, and the frame to process."""
        message = channel.inbox.popleft() if channel.inbox else None
        if isinstance(message, moshi.Init):
            channel.recognizer.reset()
            channel.text.reset()
            return [moshi.Ready()], None
        if isinstance(message, moshi.Marker):
            due = self._loop_step + self.config.delay_frames + len(channel.data) // FRAME_SAMPLES
            channel.markers.append((due, message.id))
            return [], None
        if isinstance(message, moshi.Audio):
            return [], channel.extend_data(message.samples())
        if isinstance(message, moshi.OggOpus):
            return [], None  # this double decodes no Opus
        return [], channel.extend_data(np.zeros(0, np.float32))

    def _watch_marker(self, channel: _Channel, fed: bool) -> None:
        wait = self.marker_wait
        wait.fed += fed
        wait.idle += not fed
        queued = len(channel.data) // FRAME_SAMPLES
        queued += sum(isinstance(m, moshi.Audio) for m in channel.inbox)
        wait.most_queued = max(wait.most_queued, queued)

    def _due_markers(self, channel: _Channel) -> list[moshi.ServerMessage]:
        due = sorted(m for m in channel.markers if m[0] <= self._loop_step)
        channel.markers = [m for m in channel.markers if m[0] > self._loop_step]
        return [moshi.Marker(marker_id) for _, marker_id in due]

    def _process_frame(self, channel: _Channel, frame: np.ndarray) -> list[moshi.ServerMessage]:
        self.received_frames += 1
        finite = np.isfinite(frame)
        self.non_finite_samples += int(len(frame) - finite.sum())
        self.peak = max(self.peak, float(np.abs(frame[finite]).max(initial=0.0)))
        for word in channel.recognizer.feed(frame):
            channel.text.add(word)
        out: list[moshi.ServerMessage] = []
        if self.config.extra_heads:
            pause = channel.recognizer.pause_probabilities()
            out.append(moshi.Step(self._model_step, pause, len(channel.data)))
        return out + channel.text.step()

    async def _send(self, channel: _Channel, messages: list[moshi.ServerMessage]) -> None:
        channel.last_output = time.monotonic()
        try:
            for message in messages:
                await channel.ws.send(moshi.encode(message))
        except ConnectionClosed:
            channel.closed.set()


def _drop(ws: ServerConnection) -> None:
    """End a session as moshi-server does: its tasks end and the socket goes, no close frame."""
    ws.transport.abort()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8998)
    parser.add_argument("--sentences", required=True, help="file with one test sentence a line")
    parser.add_argument("--slots", type=int, default=4)
    parser.add_argument("--model", choices=("1b", "2.6b"), default="1b")
    parser.add_argument("--step-ms", type=float, default=80.0)
    parser.add_argument("--warmup", type=float, default=0.0)
    parser.add_argument(
        "--failed-loop",
        action="store_true",
        help="a model loop that died with every slot taken: every session gets no free channels",
    )
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
        failed_loop=args.failed_loop,
    )
    logging.basicConfig(level=logging.INFO)

    async def run() -> None:
        async with MoshiDouble(config, args.host, args.port) as double:
            log.info("listening on %s", double.url)
            await asyncio.Event().wait()

    asyncio.run(run())


if __name__ == "__main__":
    main()
