"""The original service's ``/v1/stream`` (codemyriad/kyutai_modal ``src/stt/modal_app.py`` and
its Proxmox twin) behind :class:`~app.backend.stream_client.StreamClient`'s interface.

That service sends no ``ready`` (audio goes out at once), sends words without a leading space,
has no ``end`` (a text message closes the connection) and does not flush: words still in the
model when the connection closes are lost. So at release this client sends silence covering
the model delay plus a margin, and ends the stream once no word has come for one model delay
(and the silence had time to be processed); the caller sees ``Ready`` first and ``End`` last,
as from this project's proxy. A close after release (its 30 s receive timeout) ends it too.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator

import numpy as np
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

from app.backend.stream_client import (
    StreamClient,
    StreamEndedEarly,
    StreamError,
    closed_error,
    decode_message,
)
from app.core.spacing import spaced
from server.models import ModelProfile
from server.protocol.audio import FRAME_SAMPLES, SAMPLE_RATE, Samples
from server.protocol.stream import End, Error, Ready, ServerMessage, Token

log = logging.getLogger(__name__)

TAIL_MARGIN_FRAMES = 4  # silence beyond the model delay: the last word's own frames


def release_tail(samples_sent: int, model: ModelProfile) -> Samples:
    """The silence sent at release: the server's partial frame completed, then the model delay
    plus :data:`TAIL_MARGIN_FRAMES` frames."""
    pad = -samples_sent % FRAME_SAMPLES
    return np.zeros(pad + (model.delay_frames + TAIL_MARGIN_FRAMES) * FRAME_SAMPLES, np.float32)


class OriginalStreamClient(StreamClient):
    """One stream to the original service. Use :meth:`StreamClient.connect`, which picks this
    class for a server that does not name this project's protocol."""

    legacy = True

    def __init__(self, connection: ClientConnection, model: ModelProfile) -> None:
        super().__init__(connection)
        self._model = model
        self._loop = asyncio.get_running_loop()
        self._tail_done_at: float | None = None  # loop time the tail is processed in real time
        self._last_word_at = 0.0
        self._waiting: asyncio.Timeout | None = None
        self._warned = False

    async def end(self) -> None:
        """No more audio: send the silence that pushes the last words out. Idempotent."""
        if self._ended:
            return
        self._ended = True
        tail = release_tail(self._stats.samples, self._model)
        await self._send(tail.astype("<f4").tobytes())
        self._tail_done_at = self._loop.time() + len(tail) / SAMPLE_RATE
        self._stats.end_sent_at = time.monotonic()
        if self._waiting is not None:
            self._waiting.reschedule(self._quiet_deadline())

    async def messages(self) -> AsyncIterator[ServerMessage]:
        """``Ready`` at once, the server's messages (words with their leading space), then
        ``End`` once the words have stopped after :meth:`end`. Raises as
        :meth:`StreamClient.messages` does."""
        yield Ready()
        while True:
            try:
                async with asyncio.timeout_at(self._quiet_deadline()) as self._waiting:
                    data = await self._connection.recv()
            except TimeoutError:
                deadline = self._quiet_deadline()
                if deadline is not None and self._loop.time() >= deadline:
                    yield End()
                    return
                continue  # recv() is cancellation-safe: nothing was lost
            except ConnectionClosed as exc:
                if self._ended and exc.rcvd is not None:
                    yield End()  # closed after the audio ended: nothing more was coming
                    return
                raise closed_error(exc) from None
            finally:
                self._waiting = None
            message = decode_message(data)
            if isinstance(message, Token):
                self._last_word_at = self._loop.time()
                yield Token(spaced(message.text), message.start)
            elif isinstance(message, Error):
                raise StreamError(message.message, message.code)
            elif isinstance(message, End):
                if not self._ended:
                    raise StreamEndedEarly
                yield message
                return
            elif isinstance(message, Ready):
                self._warn_ready()
            elif message is not None:
                yield message

    def _quiet_deadline(self) -> float | None:
        """When the stream is over: the release silence processed, and no word for one model
        delay (None before :meth:`end`)."""
        if self._tail_done_at is None:
            return None
        return max(self._tail_done_at, self._last_word_at + self._model.delay_seconds)

    def _warn_ready(self) -> None:
        if not self._warned:
            self._warned = True
            log.warning(
                "the server sent ready, so it is this project's proxy, but its protocol header "
                "did not arrive: set the backend's protocol to 'current'"
            )
