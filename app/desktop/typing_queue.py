"""Typing off the loop: one worker thread types the words in order, behind the focus guard.

Typing blocks (XTEST waits before reusing a keycode, command-line tools take milliseconds),
so it runs on a single worker thread; the loop only queues text. Words that cannot be typed,
because focus moved or the typing method failed, are held, never dropped: the overlay shows
them with "type" and "copy" actions. Results come back to the loop through callbacks.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from functools import partial

from app.core.voice_edits import DeleteEdit, Key, PressEdit
from app.desktop.focus import FocusGuard, FocusProbe
from app.desktop.typists.base import Typist

log = logging.getLogger(__name__)


class TypingQueue:
    """``begin()`` at key-down, ``type()`` per word, ``finish()`` when the dictation is over."""

    def __init__(
        self,
        open_typist: Callable[[], Typist],
        open_probe: Callable[[], FocusProbe | None],
        on_held: Callable[[str, str, bool, int | None], None],
    ) -> None:
        """``on_held(text, why, failed, dictation)`` reports, on the loop, the words kept back
        (``failed``: typing itself failed, not the focus guard) and the dictation whose words
        were held now, as numbered at ``begin`` (None: held words failed again)."""
        self._open_typist = open_typist
        self._open_probe = open_probe
        self._on_held = on_held
        self._loop = asyncio.get_running_loop()
        self._worker = ThreadPoolExecutor(1, thread_name_prefix="typing")
        self._guard = FocusGuard()
        # Used on the worker thread only:
        self._typist: Typist | None = None
        self._probe: FocusProbe | None = None
        self._probe_opened = False
        self._failure: str | None = None
        self._dictation: int | None = None  # the one whose words are typed now
        self._words: list[str] = []  # queued by type(), taken by the worker
        self._words_lock = threading.Lock()

    def begin(self, guard_focus: bool, dictation: int | None = None) -> Future[None]:
        """A dictation starts: remember the focused window (with ``guard_focus``)."""
        self._words = []  # the words queued from now on belong to this dictation
        return self._submit(self._begin, guard_focus, dictation)

    def type(self, text: str) -> Future[None]:
        """Queue ``text``. Words that pile up while the worker types (a burst at release)
        go out together in one call: one focus check, one tool run, one paste."""
        words = self._words
        with self._words_lock:
            words.append(text)
        return self._submit(self._type_queued, words)

    def edit(self, edit: DeleteEdit | PressEdit) -> Future[None]:
        """Queue a voice edit after the words queued so far: press a key, or delete
        characters this dictation typed (only in the window it began in)."""
        self._words = []  # later words queue behind the edit, not into an earlier batch
        return self._submit(self._edit, edit)

    def finish(self) -> Future[None]:
        """The dictation is over: release the typist (X11: the keymap is restored)."""
        return self._submit(self._close_typist)

    def type_held(self) -> Future[None]:
        """Type the held words into whatever window has focus now."""
        return self._submit(self._type_held)

    def _submit(self, work: Callable[..., None], *args: object) -> Future[None]:
        future = self._worker.submit(work, *args)
        future.add_done_callback(_log_failure)
        return future

    def take_held(self) -> Future[str]:
        """The held words, forgotten here (the caller copies them)."""
        return self._worker.submit(self._guard.take_held)

    def close(self) -> None:
        self._worker.submit(self._close_all)
        self._worker.shutdown(wait=True)

    # -- on the worker thread ------------------------------------------------------------

    def _begin(self, guard_focus: bool, dictation: int | None) -> None:
        self._failure = None
        self._dictation = dictation
        window = None
        try:
            if guard_focus:
                if not self._probe_opened:
                    self._probe, self._probe_opened = self._open_probe(), True
                window = self._probe.focused_window() if self._probe else None
        except Exception as exc:  # e.g. the focused window closed while it was read
            log.warning("cannot read the focused window (%s): no focus guard this time", exc)
            window = None
        self._guard.begin(window)

    def _type_queued(self, words: list[str]) -> None:
        with self._words_lock:
            text = "".join(words)
            words.clear()
        if text:
            self._type(text)

    def _type(self, text: str) -> None:
        if self._failure is not None:
            self._hold(text, self._failure, failed=True)
            return
        if not self._guard.admit(text, self._window_now()):
            self._report_held("focus moved to another window", failed=False)
            return
        try:
            self._typist_now().type(text)
        except Exception as exc:  # whatever it was, the word is kept and the user told
            self._failure = f"typing failed: {exc}"
            log.warning("%s", self._failure)
            self._close_typist()  # a fresh one next time
            self._hold(text, self._failure, failed=True)

    def _window_now(self) -> int | None:
        probe = self._probe if self._guard.window is not None else None
        try:
            return probe.focused_window() if probe is not None else None
        except Exception:  # the window went away while being asked: focus has moved
            return -1

    def _edit(self, edit: DeleteEdit | PressEdit) -> None:
        typist = self._typist_now() if self._failure is None else None
        if isinstance(edit, PressEdit):
            if typist is None or not typist.can_press or edit.key is not Key.SHIFT_RETURN:
                # Every typist types "\n" as Return and "\t" as Tab (and holds them as text).
                self._type("\t" if edit.key is Key.TAB else "\n")
            elif self._guard.admit("\n", self._window_now()):
                self._keys(partial(typist.press, edit.key))
            else:
                self._report_held("focus moved to another window", failed=False)
            return
        count = self._guard.admit_delete(edit.count, self._window_now())
        if not count or typist is None:
            return
        if not typist.can_press:
            log.warning("the %s typist cannot delete: %d characters left", typist.name, count)
            return
        self._keys(partial(typist.delete, count))

    def _keys(self, press: Callable[[], None]) -> None:
        """Press a voice command's keys; a failure is logged, and typing goes on."""
        try:
            press()
        except Exception as exc:
            log.warning("a voice command's keys failed: %s", exc)

    def _type_held(self) -> None:
        text = self._guard.take_held()
        if not text:
            return
        try:
            self._typist_now().type(text)
        except Exception as exc:
            self._guard.earlier = text  # kept for another try, or Copy
            self._report_held(f"typing failed: {exc}", failed=True, again=True)
        finally:
            self._close_typist()  # the keymap goes back now: this was a one-off

    def _hold(self, text: str, why: str, failed: bool) -> None:
        self._guard.held.append(text)
        self._report_held(why, failed)

    def _report_held(self, why: str, failed: bool, again: bool = False) -> None:
        """``again``: words held earlier failed once more; no dictation lost words now."""
        dictation = None if again else self._dictation
        text = self._guard.held_text()
        self._loop.call_soon_threadsafe(self._on_held, text, why, failed, dictation)

    def _typist_now(self) -> Typist:
        if self._typist is None:
            self._typist = self._open_typist()
        return self._typist

    def _close_typist(self) -> None:
        typist, self._typist = self._typist, None
        if typist is not None:
            try:
                typist.close()
            except Exception as exc:
                log.warning("closing the typist: %s", exc)

    def _close_all(self) -> None:
        self._close_typist()
        if self._probe is not None:
            self._probe.close()
            self._probe = None


def _log_failure(future: Future[None]) -> None:
    if not future.cancelled() and (exc := future.exception()) is not None:
        log.error("typing worker failed", exc_info=exc)
