"""Carries out what a :class:`~app.core.session.DictationSession` decides: the connection, the
audio it sends, the words it types, the retry timers.

It runs on the asyncio loop (the Qt thread's, under qasync) and knows nothing of Qt, the
microphone or the keyboard: frames come in through :meth:`Dictation.audio`, words go out
through the ``type_text`` callback, voice commands (delete, press a key, stop) through
``on_edit``, state through ``on_phase`` and ``on_notice``. While the session holds a word that
may begin a command, a timer ticks it at the time it names.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager

import numpy as np

from app.backend.stream import Stream
from app.backend.stream_client import (
    ConnectError,
    StreamClientError,
    StreamClosed,
    StreamError,
    Unauthorized,
)
from app.core.history import Outcome
from app.core.reconnect import Verdict, classify_close, classify_error, classify_http_status
from app.core.session import (
    Action,
    Connect,
    DeleteEdit,
    DictationSession,
    Disconnect,
    Notify,
    Phase,
    PhaseChanged,
    PressEdit,
    RetryIn,
    SendAudio,
    SendEnd,
    State,
    StopEdit,
    TypeText,
)
from app.desktop.history_recorder import HistoryRecorder
from server.protocol.stream import ServerMessage

log = logging.getLogger(__name__)


# () -> a new stream to the backend (a Dictation opens one per connection attempt)
StreamFactory = Callable[[], AbstractAsyncContextManager[Stream]]
# A voice command's effect on the window or the keys (the session's other actions are its own)
WindowEdit = DeleteEdit | PressEdit | StopEdit
_END = object()  # in the outbox: send end
# For the history: a press that begins a new dictation, and the states whose audio is its.
_NEW_DICTATION = {(State.IDLE, State.CONNECTING), (State.DRAINING, State.DRAINING_NEXT)}
_CAPTURING = {State.CONNECTING, State.STREAMING, State.DRAINING_NEXT}


def classify(exc: StreamClientError) -> tuple[Verdict, str]:
    """Whether a stream failure is worth retrying, and how to say it to the user."""
    if isinstance(exc, Unauthorized):
        return (
            Verdict.FATAL,
            exc.advice or "the backend refused the credentials: check the key in Settings",
        )
    if isinstance(exc, StreamError):
        return classify_error(exc.code), f"the backend failed: {exc.message}"
    if isinstance(exc, StreamClosed):
        return classify_close(exc.close_code), str(exc)
    if isinstance(exc, ConnectError):
        verdict = Verdict.RETRY if exc.status is None else classify_http_status(exc.status)
        return verdict, str(exc)
    return Verdict.FATAL, str(exc)


class Dictation:
    """One dictation at a time, from :meth:`start` to the last word of :meth:`stop`."""

    def __init__(
        self,
        open_stream: StreamFactory,
        type_text: Callable[[str], None],
        on_phase: Callable[[Phase], None] = lambda phase: None,
        on_notice: Callable[[str, bool], None] = lambda message, error: None,
        on_message: Callable[[ServerMessage], None] = lambda message: None,
        session: DictationSession | None = None,
        on_edit: Callable[[WindowEdit], None] | None = None,
        recorder: HistoryRecorder | None = None,
    ) -> None:
        """``on_edit`` carries out voice commands (without it, the session must have them
        off, its default); ``recorder`` hears each dictation's audio, words and outcome (the
        history)."""
        self._recorder = recorder
        self._open_stream = open_stream
        self._type_text = type_text
        self._on_edit = on_edit
        self._on_phase = on_phase
        self._on_notice = on_notice
        self._on_message = on_message
        self.session = session or DictationSession()
        self._connection: asyncio.Task[None] | None = None
        self._outbox: asyncio.Queue[bytes | object] = asyncio.Queue()
        self._retry: asyncio.TimerHandle | None = None
        self._tick: asyncio.TimerHandle | None = None
        self._tick_at: float | None = None  # the session's tick_due it was set for

    @property
    def phase(self) -> Phase:
        return self.session.phase

    def start(self) -> None:
        """Key down: the connection opens; audio from now on is kept."""
        before = self.session.state
        actions = self.session.start()
        if self._recorder is not None and (before, self.session.state) in _NEW_DICTATION:
            self._recorder.begin()
        self._do(actions)

    def stop(self) -> None:
        """Key up: no more audio; the words of what was said still arrive and are typed."""
        self._do(self.session.stop())

    def audio(self, pcm: bytes) -> None:
        """A captured chunk of float32 samples (call in capture order)."""
        if self._recorder is not None and self.session.state in _CAPTURING:
            self._recorder.audio(pcm)
        self._do(self.session.audio(pcm))

    def cancel(self) -> None:
        """Give up a released dictation whose backend is not ready yet."""
        if self._recorder is not None and self.session.waiting_after_release:
            self._recorder.ended_as(Outcome.CANCELLED)
        self._do(self.session.cancel())

    async def close(self) -> None:
        """Drop any connection at once (quitting)."""
        self._cancel_retry()
        self._cancel_tick()
        task, self._connection = self._connection, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    # -- carrying out actions --------------------------------------------------------------

    def _do(self, actions: list[Action]) -> None:
        for action in actions:
            if isinstance(action, SendAudio):
                self._outbox.put_nowait(action.pcm)
            elif isinstance(action, TypeText):
                if self._recorder is not None:
                    self._recorder.text(action.text)
                self._type_text(action.text)
            elif isinstance(action, SendEnd):
                self._outbox.put_nowait(_END)
            elif isinstance(action, Connect):
                self._connect()
            elif isinstance(action, Disconnect):
                self._disconnect()
            elif isinstance(action, RetryIn):
                loop = asyncio.get_running_loop()
                self._retry = loop.call_later(action.seconds, self._retry_due)
            elif isinstance(action, PhaseChanged):
                if self._recorder is not None and action.phase is Phase.IDLE:
                    self._recorder.finished()
                self._on_phase(action.phase)
            elif isinstance(action, Notify):
                if self._recorder is not None and action.error:
                    self._recorder.ended_as(Outcome.FAILED)
                self._on_notice(action.message, action.error)
            elif isinstance(action, WindowEdit):
                if self._recorder is not None:
                    self._recorder.edit(action)
                if self._on_edit is None:
                    raise RuntimeError(f"a voice command with no on_edit to carry it: {action}")
                self._on_edit(action)
        self._schedule_tick()

    def _schedule_tick(self) -> None:
        """A timer at the session's ``tick_due``, or none when it holds no word."""
        due = self.session.tick_due
        if due == self._tick_at:
            return
        self._cancel_tick()
        if due is not None:
            delay = max(0.0, due - self.session.clock())
            self._tick = asyncio.get_running_loop().call_later(delay, self._tick_due)
            self._tick_at = due

    def _tick_due(self) -> None:
        self._tick, self._tick_at = None, None
        self._do(self.session.tick())

    def _cancel_tick(self) -> None:
        if self._tick is not None:
            self._tick.cancel()
        self._tick, self._tick_at = None, None

    def _connect(self) -> None:
        self._outbox = asyncio.Queue()  # audio queued for an earlier connection is resent
        self._connection = asyncio.ensure_future(self._run_connection(self._outbox))

    def _disconnect(self) -> None:
        self._cancel_retry()
        task, self._connection = self._connection, None
        if task is not None and task is not asyncio.current_task():
            task.cancel()

    def _retry_due(self) -> None:
        self._retry = None
        self._do(self.session.retry_due())

    def _cancel_retry(self) -> None:
        if self._retry is not None:
            self._retry.cancel()
            self._retry = None

    async def _run_connection(self, outbox: asyncio.Queue[bytes | object]) -> None:
        me = asyncio.current_task()
        try:
            async with self._open_stream() as stream:
                sender = asyncio.ensure_future(_send(stream, outbox))
                try:
                    async for message in stream.messages():
                        self._on_message(message)
                        self._do(self.session.message(message))
                        if self._connection is not me:
                            return  # the session is over (End) or moved on
                finally:
                    sender.cancel()
                    with contextlib.suppress(asyncio.CancelledError, StreamClientError):
                        await sender
            raise StreamClosed(None, text="the stream ended without end")
        except StreamClientError as exc:
            if self._connection is me:
                verdict, reason = classify(exc)
                log.info("stream failed (%s): %s", verdict.value, reason)
                self._do(self.session.connection_failed(verdict, reason))
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a bug must not leave the dictation stuck
            log.exception("dictation connection crashed")
            if self._connection is me:
                self._do(self.session.connection_failed(Verdict.FATAL, f"internal error: {exc}"))


async def _send(stream: Stream, outbox: asyncio.Queue[bytes | object]) -> None:
    while True:
        item = await outbox.get()
        if item is _END:
            await stream.end()
        else:
            assert isinstance(item, bytes)
            await stream.send_audio(np.frombuffer(item, dtype="<f4"))
