"""The history in the running app: records each dictation, stores it off the loop, says what
was not transcribed, and serves the History window (copy, type, delete, transcribe again).

"Transcribe again" sends the kept audio once to the backend configured now and stores the
text; it types nothing. Nothing polls: the offer to transcribe what failed comes after the
next dictation that succeeds, or when the user asks. No text goes to the log.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Coroutine, Sequence
from pathlib import Path
from typing import Any, Protocol, TypeVar

from PySide6.QtGui import QGuiApplication

from app.backend.connect import stream_connector
from app.backend.transcribe_audio import transcribe_samples
from app.core.credentials import SecretLookup
from app.core.endpoint import endpoint_for
from app.core.errors import AppError
from app.core.history import (
    AUDIO_KEPT,
    NO_AUDIO,
    NOT_TRANSCRIBED,
    HistoryEntry,
    Outcome,
    Retention,
    describe_backend,
    pending_offer,
)
from app.core.settings import Settings
from app.core.voice_edits import VoiceEditConfig
from app.desktop.history_recorder import HistoryRecorder
from app.desktop.history_store import HistoryStore, NewDictation
from app.desktop.typing_queue import TypingQueue
from app.desktop.window_title import focused_window_title
from app.ui.history_window import HistoryWindow
from app.ui.tray import Tray

log = logging.getLogger(__name__)

TYPE_AFTER_HIDE_S = 0.3  # the History window hides first, so focus goes back to the target
RETRY_TIMEOUT_S = 60.0
KEEP_SAVED = 8  # dictations whose entries a late "words held" can still find


_T = TypeVar("_T")


async def _off_loop(work: Callable[[], _T]) -> _T:
    """``work()`` on a worker thread. A closure, so that no text or audio is in the arguments
    that qasync's executor logs at debug level."""
    return await asyncio.to_thread(work)


class App(Protocol):
    """What the history uses of the app (:class:`~app.ui.dictate_app.DictateApp`)."""

    settings: Settings
    secrets: SecretLookup
    env: dict[str, str]
    tray: Tray
    typing: TypingQueue

    @property
    def capturing(self) -> bool: ...
    @property
    def idle(self) -> bool: ...
    @property
    def voice(self) -> VoiceEditConfig:
        """The voice commands and replacements a dictation goes through now."""
        ...

    def notify(self, message: str, error: bool) -> None: ...


class History:
    def __init__(self, app: App, path: Path | None = None) -> None:
        self._app = app
        self._path = path
        self._store: HistoryStore | None = None
        self._opening: asyncio.Future[HistoryStore] | None = None
        self._broken = False  # the file could not be opened: said once
        self._saved: dict[int, int] = {}  # the latest dictations' numbers: their entry ids
        self._held_unsaved: set[int] = set()  # held while their entry was being written
        self._titled: int | None = None  # the dictation whose window title was looked up
        self._tasks: set[asyncio.Task[None]] = set()
        self._retries: set[asyncio.Task[None]] = set()
        self.window: HistoryWindow | None = None
        self.recorder = HistoryRecorder(
            self._finished,
            backend=lambda: describe_backend(app.settings.backend),
            keep_audio=lambda: app.settings.history.keep_audio,
        )

    def open(self) -> None:
        """Open the store now, on a worker thread (a first open may migrate and compact the
        file), so that it is ready before the first dictation ends."""
        self._spawn(self._open())

    async def _open(self) -> None:
        await self.store()

    async def store(self) -> HistoryStore | None:
        """The store, opened once off the loop; None if it cannot be (said once)."""
        if self._store is None and not self._broken:
            if self._opening is None:
                path = self._path
                self._opening = asyncio.ensure_future(_off_loop(lambda: HistoryStore(path)))
            try:
                self._store = await asyncio.shield(self._opening)
            except AppError as exc:
                if not self._broken:
                    self._broken = True
                    self._app.notify(f"history: {exc}", True)
        return self._store

    async def close(self) -> None:
        """Quitting: a dictation still open is stored as cancelled (its audio kept), and
        every save in progress finishes; a transcription in progress is dropped."""
        for new in self.recorder.abandon(Outcome.CANCELLED):
            self._spawn(self._save(new))
        for task in list(self._retries):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._opening is not None and self._store is None:
            with contextlib.suppress(AppError):
                self._store = await self._opening
        if self._store is not None:
            self._store.close()
        if self.window is not None:
            self.window.close()

    def _spawn(self, work: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._done)
        return task

    def _done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        self._retries.discard(task)
        if not task.cancelled() and (exc := task.exception()) is not None:
            log.error("history: %s", exc, exc_info=exc)

    # -- recording ---------------------------------------------------------------------------

    def began(self) -> None:
        """A dictation started: look up its window's title off the loop (once: a press that
        continues the dictation keeps the window it began in)."""
        record = self.recorder.newest
        if record is None or record.number == self._titled:
            return
        self._titled = record.number

        async def look_up() -> None:
            env = self._app.env
            record.window = await _off_loop(lambda: focused_window_title(env))

        self._spawn(look_up())

    def held(self, dictation: int) -> None:
        """The focus guard (or a failure) held words of dictation ``dictation`` back."""
        if self.recorder.held(dictation):
            return
        entry_id = self._saved.get(dictation)
        if entry_id is None:
            self._held_unsaved.add(dictation)  # its save, in progress, marks it
        else:
            self._spawn(self._mark_held(entry_id))

    async def _mark_held(self, entry_id: int) -> None:
        store = await self.store()
        if store is None:
            return
        try:
            await _off_loop(lambda: store.mark_held(entry_id))
        except AppError as exc:
            self._app.notify(f"history: {exc}", True)
            return
        self._refresh()

    def _finished(self, dictation: int, new: NewDictation) -> None:
        self._spawn(self._save(new, dictation))

    async def _save(self, new: NewDictation, dictation: int | None = None) -> None:
        """Store a finished dictation (``dictation``: its number; None when quitting)."""
        store = await self.store()
        if store is None:
            return
        retention = Retention.of(self._app.settings.history)
        try:
            entry_id = await _off_loop(lambda: store.add(new))
        except AppError as exc:
            self._app.notify(f"history: {exc}", True)
            return
        if dictation is not None:  # from now on a late "held" finds the entry
            self._saved[dictation] = entry_id
            while len(self._saved) > KEEP_SAVED:
                del self._saved[next(iter(self._saved))]
            if dictation in self._held_unsaved:
                self._held_unsaved.discard(dictation)
                self._spawn(self._mark_held(entry_id))
        try:
            await _off_loop(lambda: store.prune(retention))
        except AppError as exc:
            self._app.notify(f"history: {exc}", True)
            return
        log.info("history: dictation %d stored (%s)", entry_id, new.outcome.value)
        self._refresh()
        if dictation is None:
            return
        if new.outcome in NOT_TRANSCRIBED:
            has_audio = await _off_loop(lambda: store.get(entry_id).has_audio)
            kept = AUDIO_KEPT if has_audio else NO_AUDIO
            if new.outcome is Outcome.CANCELLED:  # the user's choice: no error
                self._app.notify(f"dictation cancelled; {kept}", False)
            else:
                self._app.notify(f"dictation not fully transcribed; {kept}", True)
        elif new.outcome is Outcome.TYPED:
            await self.offer_pending()

    async def offer_pending(self) -> int:
        """Offer to transcribe what was not transcribed (after a success); how many."""
        store = await self.store()
        count = len(await _off_loop(store.not_transcribed)) if store else 0
        if count:
            message = pending_offer(count)
            log.info("history: %s", message)
            self._app.tray.offer(message)
        return count

    # -- the window ----------------------------------------------------------------------------

    def show(self) -> None:
        """Show the History window (at once if the store is open, else once it is)."""
        if self._store is None:
            self._spawn(self._show())
            return
        self._show_window(self._store)

    async def _show(self) -> None:
        store = await self.store()
        if store is not None:
            self._show_window(store)

    def _show_window(self, store: HistoryStore) -> None:
        if self.window is None:
            self.window = HistoryWindow(
                store.entries,
                lambda: self._app.settings.history.keep_audio,
                self._copy,
                self._type,
                self.retry,
                self._delete,
            )
        self.window.refresh()
        self.window.show()
        self.window.raise_()
        self.window.activateWindow()

    def _refresh(self) -> None:
        if self.window is not None:
            self.window.refresh()

    def _copy(self, text: str) -> None:
        QGuiApplication.clipboard().setText(text)

    def _type(self, text: str) -> None:
        """Type ``text`` into the window that has focus once the History window is hidden."""
        if not self._app.idle:
            self._app.notify("a dictation is running: type the entry when it is over", False)
            return
        if self.window is not None:
            self.window.hide()

        def type_now() -> None:
            self._app.typing.begin(False)
            self._app.typing.type(text)
            self._app.typing.finish()

        asyncio.get_running_loop().call_later(TYPE_AFTER_HIDE_S, type_now)

    def _delete(self, entry_id: int | None) -> None:
        self._spawn(self._delete_now(entry_id))

    async def _delete_now(self, entry_id: int | None) -> None:
        """Off the loop: a deletion overwrites, compacts and checkpoints the file."""
        store = await self.store()
        if store is None:
            return
        try:
            if entry_id is None:
                await _off_loop(store.delete_all)
                log.info("history: every entry deleted")
            else:
                await _off_loop(lambda: store.delete(entry_id))
                log.info("history: dictation %d deleted", entry_id)
        except AppError as exc:
            self._app.notify(f"history: {exc}", True)
        self._refresh()

    # -- transcribing again --------------------------------------------------------------------

    def retry(self, ids: Sequence[int]) -> None:
        """Transcribe these entries again, one after the other (types nothing)."""
        self._retries.add(self._spawn(self._retry(list(ids))))

    def retry_pending(self) -> None:
        """Transcribe again every dictation that waits for it (the tray's offer, clicked)."""
        self.show()
        self._retries.add(self._spawn(self._retry_pending()))

    async def _retry_pending(self) -> None:
        store = await self.store()
        if store is not None:
            pending = await _off_loop(store.not_transcribed)
            await self._retry([entry.id for entry in pending])

    async def _retry(self, ids: list[int]) -> None:
        store = await self.store()
        if store is None:
            return
        done = 0
        for entry_id in ids:
            try:
                await self._retry_one(store, entry_id)
                done += 1
            except AppError as exc:
                self._app.notify(f"transcribing dictation {entry_id} again failed: {exc}", True)
                break
        if done:
            self._app.notify(f"{done} dictation(s) transcribed again: see History", False)

    async def _retry_one(self, store: HistoryStore, entry_id: int) -> HistoryEntry:
        samples = await _off_loop(lambda: store.audio(entry_id))
        if samples is None:
            raise AppError("its audio is not kept")
        settings = self._app.settings.backend
        endpoint = endpoint_for(settings, self._app.secrets)
        log.info("history: transcribing dictation %d again", entry_id)
        text = await transcribe_samples(
            stream_connector(settings),
            endpoint,
            samples,
            RETRY_TIMEOUT_S,
            RETRY_TIMEOUT_S,
            voice=self._app.voice,
        )
        await _off_loop(lambda: store.set_retry_text(entry_id, text))
        log.info("history: dictation %d transcribed again", entry_id)
        self._refresh()
        return await _off_loop(lambda: store.get(entry_id))
