"""The engine's WebSocket server: moshi-server's ``/api/asr-streaming`` on a local model.

Written from kyutai-labs/moshi ``rust/moshi-server/src/batched_asr.rs`` and ``main.rs``
(PROTOCOL.md section 2):
- auth before the upgrade (401): the ``kyutai-api-key`` header when present, else ``auth_id``;
- ``GET /api/modules_info``: one map of strings with ``used_slots`` and ``total_slots``;
- ``handle_socket``: a free slot or ``Error "no free channels"`` and a close; an ``Init`` is
  queued first, answered by ``Ready`` (and a slot reset) in the model loop;
- ``recv_loop``/``send_loop``: a ping after 10 s without output; the session is dropped
  after 20 s without a frame, or at the first frame after 120 s without a binary message,
  or at an undecodable message;
- ``start_model_loop``: two warm-up steps, then one loop for all slots: each step takes at
  most one message per slot and at most one frame (``Channel::extend_data``), runs the model
  on the slots with a frame (the exec mask), and counts the step only then; a ``Marker``
  falls due ``delay`` + whole frames buffered steps later; ``Step`` carries the model's
  global step counter, the extra heads' ``prs`` and the samples still buffered.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from http import HTTPStatus
from urllib.parse import parse_qs, urlsplit

import numpy as np
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.frames import Frame, Opcode
from websockets.http11 import Request, Response

from server.engine.batch import BatchModel, StepResult
from server.engine.checkpoint import EngineFacts
from server.engine.words import SlotText
from server.models import STEP_SECONDS
from server.protocol import ProtocolError, moshi
from server.protocol.audio import FRAME_SAMPLES

log = logging.getLogger("kyutai-engine")

MODULES_INFO_PATH = "/api/modules_info"
WARMUP_STEPS = 2
PING_AFTER = 10.0  # batched_asr.rs SEND_PING_EVERY
DROP_WITHOUT_FRAMES = 2 * PING_AFTER
DROP_WITHOUT_BINARY = 120.0
IDLE_POLL = 0.002  # the loop's sleep when no slot has a frame


@dataclass(frozen=True)
class Limits:
    """The idle limits (seconds); tests shorten them."""

    ping_after: float = PING_AFTER
    drop_without_frames: float = DROP_WITHOUT_FRAMES
    drop_without_binary: float = DROP_WITHOUT_BINARY


class _Connection(ServerConnection):
    """Every frame counts for the short timeout; the long one is checked as a frame arrives."""

    last_frame = last_binary = 0.0
    drop_without_binary = float("inf")

    def process_event(self, event: object) -> None:
        if isinstance(event, Frame):
            self.last_frame = time.monotonic()
            if self.last_frame - self.last_binary > self.drop_without_binary:
                log.info("recv loop long timeout")
                self.transport.abort()
                return
            if event.opcode is Opcode.BINARY:
                self.last_binary = self.last_frame
        super().process_event(event)  # type: ignore[arg-type]


@dataclass
class _Channel:
    ws: _Connection
    text: SlotText
    inbox: deque[moshi.ClientMessage] = field(default_factory=lambda: deque([moshi.Init()]))
    data: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))
    closed: asyncio.Event = field(default_factory=asyncio.Event)
    last_output: float = field(default_factory=time.monotonic)
    outbox: asyncio.Queue[moshi.ServerMessage] = field(default_factory=asyncio.Queue)

    def extend_data(self, pcm: np.ndarray) -> np.ndarray | None:
        """At most one frame out; the rest is kept (``Channel::extend_data``)."""
        if not len(self.data) and len(pcm) >= FRAME_SAMPLES:
            self.data = pcm[FRAME_SAMPLES:]
            return pcm[:FRAME_SAMPLES]
        self.data = np.concatenate((self.data, pcm))
        if len(self.data) < FRAME_SAMPLES:
            return None
        frame, self.data = self.data[:FRAME_SAMPLES], self.data[FRAME_SAMPLES:]
        return frame


class EngineServer:
    """``async with EngineServer(model, facts, keys) as engine:`` then ``engine.url``."""

    def __init__(
        self,
        model: BatchModel,
        facts: EngineFacts,
        api_keys: frozenset[str],
        host: str = "127.0.0.1",
        port: int = 0,
        limits: Limits | None = None,
    ) -> None:
        self.model = model
        self.facts = facts
        self.api_keys = api_keys
        self.limits = limits or Limits()
        self._host, self._port = host, port
        self._channels: list[_Channel | None] = [None] * model.batch_size
        self._markers: list[tuple[int, int, _Channel, int]] = []  # (due, order, channel, id)
        self._marker_order = itertools.count()
        self._server: Server | None = None
        self._loop_task: asyncio.Task[None] | None = None
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="model-loop")
        self._loop_step = 0  # steps with audio since the loop started (markers)
        self._model_step = 0  # moshi-core model_step_idx (Step messages), warm-up included
        self.ready = asyncio.Event()
        self.step_seconds = float("nan")  # one full batch step, measured at warm-up

    @property
    def port(self) -> int:
        assert self._server is not None
        port: int = self._server.sockets[0].getsockname()[1]
        return port

    @property
    def url(self) -> str:
        return f"ws://{self._host}:{self.port}{moshi.PATH}"

    @property
    def used_slots(self) -> int:
        return sum(c is not None for c in self._channels)

    async def __aenter__(self) -> EngineServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def start(self) -> None:
        self._server = await serve(
            self._handle,
            self._host,
            self._port,
            process_request=self._check_request,
            create_connection=_Connection,
            ping_interval=None,
            max_size=2**24,
        )
        self._loop_task = asyncio.create_task(self._model_loop())

    async def close(self) -> None:
        if self._loop_task:
            self._loop_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._loop_task
        if self._server:
            self._server.close()
            await self._server.wait_closed()
        self._executor.shutdown(wait=True)

    async def wait_ready(self) -> bool:
        """Whether the warm-up succeeded (False: the loop failed before it was ready)."""
        assert self._loop_task is not None
        ready = asyncio.create_task(self.ready.wait())
        await asyncio.wait({ready, self._loop_task}, return_when=asyncio.FIRST_COMPLETED)
        ready.cancel()
        return self.ready.is_set()

    def _check_request(self, connection: ServerConnection, request: Request) -> Response | None:
        url = urlsplit(request.path)
        if url.path == MODULES_INFO_PATH:
            return self._modules_info()
        if url.path != moshi.PATH:
            return connection.respond(HTTPStatus.NOT_FOUND, "not found\n")
        if moshi.API_KEY_HEADER in request.headers:
            key: str | None = request.headers[moshi.API_KEY_HEADER]
        else:
            key = next(iter(parse_qs(url.query).get("auth_id", [])), None)
        if key not in self.api_keys:
            return Response(401, "Unauthorized", Headers(), b"")
        return None

    def _modules_info(self) -> Response:
        info = {
            "type": "batched_asr",
            "path": moshi.PATH,
            "lm": self.facts.lm_file,
            "audio_tokenizer": self.facts.mimi_file,
            "used_slots": str(self.used_slots),
            "total_slots": str(self.model.batch_size),
            # this engine's own additions: where it runs and how fast (a full batch step
            # over the 80 ms of audio it handles; above 1 it cannot keep up with real time)
            "device": self.model.device,
            "real_time_factor": f"{self.step_seconds / STEP_SECONDS:.3f}",
        }
        body = json.dumps([info]).encode()
        return Response(200, "OK", Headers([("Content-Type", "application/json")]), body)

    async def _handle(self, ws: ServerConnection) -> None:
        assert isinstance(ws, _Connection)
        slot = next((i for i, c in enumerate(self._channels) if c is None), None)
        if slot is None:
            await ws.send(moshi.encode(moshi.Error(moshi.NO_FREE_CHANNELS)))
            await ws.close()
            return
        ws.last_frame = ws.last_binary = time.monotonic()
        ws.drop_without_binary = self.limits.drop_without_binary
        channel = _Channel(ws, SlotText(self.facts.delay_frames, self.model.decode))
        self._channels[slot] = channel
        watchdog = asyncio.create_task(self._watchdog(channel))
        writer = asyncio.create_task(self._write(channel))
        try:
            await self._read(channel)
        finally:
            watchdog.cancel()
            writer.cancel()
            channel.closed.set()  # the model loop frees the slot at its next step

    async def _read(self, channel: _Channel) -> None:
        try:
            async for data in channel.ws:
                if isinstance(data, str):
                    continue
                try:
                    channel.inbox.append(moshi.decode_client(data))
                except ProtocolError as exc:
                    log.info("undecodable message, ending session: %s", exc)
                    break
        except ConnectionClosed:
            return
        channel.ws.transport.abort()

    async def _write(self, channel: _Channel) -> None:
        """``send_loop``: the slot's messages, in order."""
        try:
            while True:
                message = await channel.outbox.get()
                await channel.ws.send(moshi.encode(message))
        except ConnectionClosed:
            channel.closed.set()

    async def _watchdog(self, channel: _Channel) -> None:
        limits = self.limits
        while True:
            await asyncio.sleep(min(limits.ping_after, limits.drop_without_frames) / 4)
            now = time.monotonic()
            if now - channel.ws.last_frame > limits.drop_without_frames:
                log.info("recv loop short timeout")
                channel.ws.transport.abort()
                return
            if now - channel.last_output > limits.ping_after:
                channel.last_output = now
                with contextlib.suppress(ConnectionClosed):
                    await channel.ws.ping()

    async def _run(
        self, pcm: np.ndarray, active: list[bool], resets: list[int]
    ) -> StepResult | None:
        """One model step on the model's thread; None (and no thread hop) when idle."""
        if not resets and not any(active):
            return None

        def work() -> StepResult | None:
            self.model.reset(resets)
            if not any(active):
                return None
            return self.model.step(pcm, active)

        return await asyncio.get_running_loop().run_in_executor(self._executor, work)

    async def _model_loop(self) -> None:
        """The loop; if the model fails, it is logged and the slots stay taken, as in
        moshi-server (the proxy's health check reports it as stalled)."""
        try:
            await self._steps()
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("model loop failed")

    async def _steps(self) -> None:
        batch = self.model.batch_size
        warm = np.zeros((batch, FRAME_SAMPLES), np.float32)
        for _ in range(WARMUP_STEPS):
            start = time.monotonic()
            await self._run(warm, [True] * batch, [])
            self.step_seconds = time.monotonic() - start  # the last, warm one counts
            self._model_step += 1
        self.ready.set()
        log.info("model loop started: %d slots", batch)
        while True:
            for slot, channel in enumerate(self._channels):
                if channel is not None and channel.closed.is_set():
                    self._channels[slot] = None
            pcm = np.zeros((batch, FRAME_SAMPLES), np.float32)
            active = [False] * batch
            resets: list[int] = []
            for slot, channel in enumerate(self._channels):
                if channel is None:
                    continue
                frame = self._pre_process(channel, slot, resets)
                if frame is not None:
                    pcm[slot], active[slot] = frame, True
            result = await self._run(pcm, active, resets)
            if result is None:
                await asyncio.sleep(IDLE_POLL)
                continue
            self._loop_step += 1
            self._model_step += 1
            await self._post_process(result, active)

    def _pre_process(self, channel: _Channel, slot: int, resets: list[int]) -> np.ndarray | None:
        message = channel.inbox.popleft() if channel.inbox else None
        if isinstance(message, moshi.Init):
            channel.text.reset()
            resets.append(slot)
            self._send_soon(channel, [moshi.Ready()])
            return None
        if isinstance(message, moshi.Marker):
            due = self._loop_step + self.facts.delay_frames + len(channel.data) // FRAME_SAMPLES
            self._markers.append((due, next(self._marker_order), channel, message.id))
            return None
        if isinstance(message, moshi.Audio):
            samples = np.nan_to_num(message.samples(), nan=0.0, posinf=0.0, neginf=0.0)
            return channel.extend_data(samples)
        if isinstance(message, moshi.OggOpus):
            log.error("oggopus not supported")  # this engine decodes no Opus
            return None
        return channel.extend_data(np.zeros(0, np.float32))

    async def _post_process(self, result: StepResult, active: list[bool]) -> None:
        for slot, channel in enumerate(self._channels):
            if channel is None or not active[slot]:
                continue
            out: list[moshi.ServerMessage] = []
            if self.model.has_extra_heads:
                out.append(moshi.Step(self._model_step, tuple(result.prs[slot]), len(channel.data)))
            words = channel.text.step(result.tokens[slot])
            for word in words:
                if isinstance(word, moshi.Word):
                    log.debug("slot %d word %r", slot, word.text)
            out += words
            self._send_soon(channel, out)
        due = sorted(m for m in self._markers if m[0] <= self._loop_step)
        self._markers = [m for m in self._markers if m[0] > self._loop_step]
        for _, _, channel, marker_id in due:
            self._send_soon(channel, [moshi.Marker(marker_id)])

    def _send_soon(self, channel: _Channel, messages: list[moshi.ServerMessage]) -> None:
        """Queue for the slot's writer (a closed session's messages are dropped)."""
        if not messages or channel.closed.is_set():
            return
        channel.last_output = time.monotonic()
        for message in messages:
            channel.outbox.put_nowait(message)
