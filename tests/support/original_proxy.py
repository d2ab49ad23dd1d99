"""A stand-in for the original service's proxy (test use only), in front of a moshi-server.

Written from codemyriad/kyutai_modal ``src/stt/modal_app.py`` (``KyutaiSTTRustService.serve``,
the FastAPI ``/v1/stream`` handler; its Proxmox twin ``deploy/proxmox/local_server.py`` is the
same handler). What it does, and so what this stand-in does:

- ``/v1/stream`` only; a WebSocket to any other path is closed before the accept, which
  Starlette under uvicorn answers with HTTP 403. ``GET /health`` answers JSON. Its 101
  response carries no header of this project's proxy.
- With ``modal_auth`` (the Modal deployment's ``requires_proxy_auth=True``): Modal's edge answers
  401 "modal-http: missing credentials for proxy authorization" unless the ``Modal-Key`` and
  ``Modal-Secret`` headers match, before the request reaches the container.
- Accepts first, then connects to moshi-server with ``kyutai-api-key: public_token`` (open
  timeout 30 s). Sends no ``ready``: audio is read at once.
- Client binary messages are float32 samples; complete 1920-sample frames go to moshi-server
  at once as msgpack ``{"type": "Audio", "pcm": [...]}`` (floats packed as float64, msgpack's
  default); the rest waits in a buffer. An empty message is skipped; a length that is not a
  multiple of 4 makes ``np.frombuffer`` raise, which ends the session.
- Each ``Word`` is forwarded as ``{"type": "token", "text": ...}`` with the text as moshi-server
  sends it: no leading space. ``Ready``, ``Step``, ``EndWord``, ``Marker`` and ``Error`` are
  dropped. No ``vad_end``, no ``ping`` (the earlier Python-engine version sent those).
- ``ws.receive_bytes()`` with a 30 s timeout: no message for 30 s ends the session. A text
  message (such as ``{"type": "end"}``) has no ``bytes`` in its ASGI event, so
  ``receive_bytes()`` raises ``KeyError``; that too ends the session.
- No flush: when the session ends (client close, timeout, text message, a backend send
  failure) the task forwarding words is cancelled at once, words still in the model are lost,
  and the client socket is closed with 1000.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from http import HTTPStatus
from urllib.parse import urlsplit

import msgpack
import numpy as np
from websockets.asyncio.client import connect
from websockets.asyncio.server import ServerConnection, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from server.protocol import moshi
from server.protocol.audio import FRAME_SAMPLES
from server.protocol.stream import PATH

log = logging.getLogger("original-proxy")

RECEIVE_TIMEOUT = 30.0  # asyncio.wait_for(ws.receive_bytes(), timeout=30.0)
BACKEND_KEY = "public_token"  # rust_headers = {"kyutai-api-key": "public_token"}


@dataclass
class OriginalProxy:
    """Serves until the block ends; ``url`` is its ``/v1/stream`` URL."""

    backend_url: str
    modal_auth: tuple[str, str] | None = None  # (Modal-Key, Modal-Secret) Modal's edge checks
    receive_timeout: float = RECEIVE_TIMEOUT
    url: str = ""
    sessions: int = 0
    text_messages: int = 0  # text frames received (each one ended its session)

    def _route(self, connection: ServerConnection, request: Request) -> Response | None:
        if self.modal_auth is not None:
            sent = (request.headers.get("Modal-Key"), request.headers.get("Modal-Secret"))
            if sent != self.modal_auth:
                body = b"modal-http: missing credentials for proxy authorization\n"
                return Response(401, "Unauthorized", Headers(), body)
        path = urlsplit(request.path).path
        upgrade = "websocket" in request.headers.get("Upgrade", "").lower()
        if not upgrade and path == "/health":
            body = {"status": "ok", "model": "kyutai/stt-1b-en_fr", "backend": "rust"}
            response = connection.respond(HTTPStatus.OK, json.dumps(body))
            response.headers["Content-Type"] = "application/json"
            return response
        if path != PATH:
            return connection.respond(HTTPStatus.FORBIDDEN, "")
        return None

    async def _handle(self, ws: ServerConnection) -> None:
        self.sessions += 1
        try:
            backend_headers = {moshi.API_KEY_HEADER: BACKEND_KEY}
            async with connect(
                self.backend_url, additional_headers=backend_headers, open_timeout=30
            ) as backend:
                forward = asyncio.create_task(self._forward_words(backend, ws))
                try:
                    await self._pump_audio(ws, backend)
                finally:
                    forward.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await forward
        except Exception as exc:  # the original catches everything and logs it
            log.info("session error: %r", exc)
        finally:
            with contextlib.suppress(Exception):
                await ws.close()

    async def _pump_audio(self, ws: ServerConnection, backend: object) -> None:
        buffer = np.array([], dtype=np.float32)
        while True:
            try:
                data = await asyncio.wait_for(ws.recv(), timeout=self.receive_timeout)
            except TimeoutError:
                log.info("client timeout")
                return
            except ConnectionClosed:
                log.info("client disconnected")
                return
            if isinstance(data, str):
                self.text_messages += 1
                raise KeyError("bytes")  # receive_bytes() on a text message
            if not data:
                continue
            buffer = np.concatenate([buffer, np.frombuffer(data, dtype=np.float32)])
            while len(buffer) >= FRAME_SAMPLES:
                frame, buffer = buffer[:FRAME_SAMPLES], buffer[FRAME_SAMPLES:]
                packed = msgpack.packb({"type": "Audio", "pcm": frame.tolist()})
                await backend.send(packed)  # type: ignore[attr-defined]

    async def _forward_words(self, backend: object, ws: ServerConnection) -> None:
        try:
            async for message in backend:  # type: ignore[attr-defined]
                if not isinstance(message, bytes):
                    continue
                try:
                    data = msgpack.unpackb(message, raw=False)
                except Exception:  # logged and skipped by the original
                    continue
                if isinstance(data, dict) and data.get("type") == "Word" and data.get("text"):
                    payload = json.dumps({"type": "token", "text": data["text"]})
                    with contextlib.suppress(Exception):
                        await asyncio.wait_for(ws.send(payload), timeout=5.0)
        except ConnectionClosed:
            pass


@asynccontextmanager
async def original_proxy(backend_url: str, **options: object) -> AsyncIterator[OriginalProxy]:
    """Run an :class:`OriginalProxy` on 127.0.0.1 in front of ``backend_url``."""
    proxy = OriginalProxy(backend_url, **options)  # type: ignore[arg-type]
    async with serve(proxy._handle, "127.0.0.1", 0, process_request=proxy._route) as server:
        proxy.url = f"ws://127.0.0.1:{server.sockets[0].getsockname()[1]}{PATH}"
        yield proxy
