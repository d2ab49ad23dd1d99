"""Voice commands and replacements as a pure streaming transform (no Qt, no I/O).

Input events: words (text with its leading space, and ``start`` in audio seconds), ``vad_end``,
a clock tick (audio time, a promise that every later word starts at or after it) and the end
of the dictation. Output: edit operations (type text, delete characters this dictation typed,
press a key, stop dictation). A word is held back only while it may begin a command or a
replacement (a phrase never spans a pause), and is released at the next word, a tick past the
pause window, ``vad_end`` or the end, so every decision is a pure function of the events seen.

A command counts only as a phrase of its own: it starts at the start of the dictation, after
a sentence end or a pause, and ends at a pause, a sentence end or the end of the dictation. A
pause is a gap of at least ``pause_seconds`` between consecutive words' ``start`` or a
``vad_end``.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from app.core.spacing import spaced


class Key(enum.Enum):
    RETURN = "Return"
    SHIFT_RETURN = "Shift+Return"
    TAB = "Tab"


class CommandKind(enum.Enum):
    NEW_LINE = "new line"
    NEW_PARAGRAPH = "new paragraph"
    SCRATCH = "scratch that"
    PRESS_ENTER = "press enter"
    PRESS_TAB = "press tab"
    STOP = "stop dictation"


COMMAND_PHRASES: dict[CommandKind, tuple[str, ...]] = {
    CommandKind.NEW_LINE: ("new line", "newline", "à la ligne", "nouvelle ligne"),
    CommandKind.NEW_PARAGRAPH: ("new paragraph", "nouveau paragraphe"),
    CommandKind.SCRATCH: ("scratch that", "delete that", "efface ça", "supprime ça"),
    CommandKind.PRESS_ENTER: ("press enter", "appuie sur entrée", "appuyer sur entrée"),
    CommandKind.PRESS_TAB: ("press tab", "appuie sur tabulation", "appuyer sur tabulation"),
    CommandKind.STOP: ("stop dictation", "arrête la dictée", "arrêter la dictée"),
}

CAPTIONS: dict[CommandKind, str] = {
    CommandKind.NEW_LINE: "⏎ new line",
    CommandKind.NEW_PARAGRAPH: "¶ new paragraph",
    CommandKind.SCRATCH: "⌫ scratch that",
    CommandKind.PRESS_ENTER: "↵ press enter",
    CommandKind.PRESS_TAB: "⇥ press tab",
    CommandKind.STOP: "■ stop dictation",
}

_SENTENCE_END = (".", "!", "?", "…")
# Times are float seconds: a gap that is the pause, give or take rounding, is a pause.
_ROUNDING = 1e-6
_NOT_WORD = re.compile(r"[^\w\s]+")


def normalize(text: str) -> str:
    """``text`` for matching: lower case, punctuation dropped, spaces collapsed."""
    return " ".join(_NOT_WORD.sub("", text).casefold().split())


def _words(phrase: str) -> tuple[str, ...]:
    return tuple(normalize(phrase).split())


# -- output --------------------------------------------------------------------------------


@dataclass(frozen=True)
class TypeEdit:
    text: str


@dataclass(frozen=True)
class DeleteEdit:
    """Delete the last ``count`` characters (code points) this dictation typed."""

    count: int
    caption: str = field(default="", compare=False)


@dataclass(frozen=True)
class PressEdit:
    key: Key
    caption: str = ""


@dataclass(frozen=True)
class StopEdit:
    caption: str = CAPTIONS[CommandKind.STOP]


Edit = TypeEdit | DeleteEdit | PressEdit | StopEdit


def apply_edits(text: str, edits: Iterable[Edit]) -> str:
    """The text a window shows after ``edits`` (keys as the characters they type)."""
    for edit in edits:
        match edit:
            case TypeEdit(typed):
                text += typed
            case DeleteEdit(count):
                text = text[: len(text) - count]
            case PressEdit(Key.TAB):
                text += "\t"
            case PressEdit():
                text += "\n"
    return text


# -- configuration -------------------------------------------------------------------------


@dataclass(frozen=True)
class Rule:
    """A replacement: the spoken phrase (matched as whole words, any case) and its text."""

    spoken: str
    text: str

    def __post_init__(self) -> None:
        if not _words(self.spoken):
            raise ValueError(f"a rule needs a spoken phrase with a word in it: {self.spoken!r}")


@dataclass(frozen=True)
class VoiceEditConfig:
    commands: bool = True
    rules: Sequence[Rule] = ()
    pause_seconds: float = 0.6
    newline_key: Key = Key.RETURN
    leading_space: bool = False  # the first word keeps its space
    add_missing_space: bool = True  # a word without a leading space gets one


@dataclass(frozen=True)
class _Candidate:
    words: tuple[str, ...]
    command: CommandKind | None = None
    text: str = ""


def _candidates(config: VoiceEditConfig) -> list[_Candidate]:
    found = [_Candidate(_words(r.spoken), text=r.text) for r in config.rules]
    if config.commands:
        found += [
            _Candidate(_words(p), command=kind)
            for kind, phrases in COMMAND_PHRASES.items()
            for p in phrases
        ]
    return found


# -- the transform -------------------------------------------------------------------------


@dataclass
class _Word:
    text: str
    start: float
    norm: str
    boundary_before: bool
    boundary_after: bool | None = None  # None: not known yet


@dataclass
class _Segment:
    """Characters typed since a sentence end or command, and the spacing before them."""

    chars: int
    at_line_start: bool


class _Undecided(Exception):
    """A candidate cannot be decided from the events seen so far."""


@dataclass
class VoiceEdits:
    """The streaming transform of one dictation; each event returns the edits it releases."""

    config: VoiceEditConfig = field(default_factory=VoiceEditConfig)
    consumed: int = 0  # words turned into edits so far
    dropped: int = 0  # words after "stop dictation"
    _pending: list[_Word] = field(default_factory=list)
    _last: _Word | None = None  # the last word received
    _pause_after_last: bool = False
    _finished: bool = False
    _stopped: bool = False
    _at_line_start: bool = True
    _segments: list[_Segment] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._candidates = _candidates(self.config)
        self._firsts = {c.words[0] for c in self._candidates}
        self._at_line_start = not self.config.leading_space
        self._segments = [_Segment(0, self._at_line_start)]

    @property
    def held(self) -> int:
        """Words received and not released yet."""
        return len(self._pending)

    def word(self, text: str, start: float) -> list[Edit]:
        if self._stopped or self._finished:
            self.dropped += 1
            return []
        last = self._last
        before = (
            last is None
            or self._pause_after_last
            or last.text.rstrip().endswith(_SENTENCE_END)
            or start - last.start >= self.config.pause_seconds - _ROUNDING
        )
        if last is not None and last.boundary_after is None:
            last.boundary_after = before
        word = _Word(text, start, normalize(text), before)
        if text.rstrip().endswith(_SENTENCE_END):
            word.boundary_after = True
        self._last, self._pause_after_last = word, False
        self._pending.append(word)
        return self._drain()

    def vad_end(self) -> list[Edit]:
        return self._pause()

    def tick(self, now: float) -> list[Edit]:
        """Audio time ``now``: no later word will start before it."""
        pause = self.config.pause_seconds - _ROUNDING
        if self._last is not None and now - self._last.start >= pause:
            return self._pause()
        return []

    def finish(self) -> list[Edit]:
        """The end of the dictation: every held word is released."""
        self._finished = True
        edits = self._pause()
        assert not self._pending
        return edits

    def _pause(self) -> list[Edit]:
        if self._last is not None:
            self._pause_after_last = True
            if self._last.boundary_after is None:
                self._last.boundary_after = True
        return self._drain()

    # -- deciding ----------------------------------------------------------------------------

    def _drain(self) -> list[Edit]:
        edits: list[Edit] = []
        while self._pending and not self._stopped:
            head = self._pending[0]
            if head.norm.split()[:1] and head.norm.split()[0] in self._firsts:
                try:
                    best = self._best_match()
                except _Undecided:
                    return edits
            else:
                best = None
            if best is None:
                edits += self._type(head.text)
                self._take(1)
            else:
                edits += self._apply(best)
        if self._stopped:
            self.dropped += len(self._pending)
            self._pending.clear()
        return edits

    def _best_match(self) -> _Candidate | None:
        """The longest candidate matching the held words (a command before a rule)."""
        matches = []
        undecided = False
        for candidate in self._candidates:
            try:
                if self._matches(candidate):
                    matches.append(candidate)
            except _Undecided:
                undecided = True
        if undecided:
            raise _Undecided
        if not matches:
            return None
        return max(matches, key=lambda c: (len(c.words), c.command is not None))

    def _matches(self, candidate: _Candidate) -> bool:
        held = self._held_words(len(candidate.words))
        if held is None:
            # A phrase never spans a pause, so a pause after the held words decides it too.
            if self._finished or self._pending[-1].boundary_after:
                return False
            prefix = [w for word in self._pending for w in word.norm.split()]
            if tuple(prefix) == candidate.words[: len(prefix)]:
                raise _Undecided
            return False
        count, joined = held
        if joined != candidate.words:
            return False
        if any(word.boundary_after for word in self._pending[: count - 1]):
            return False
        if candidate.command is None:
            return True
        if not self._pending[0].boundary_before:
            return False
        after = self._pending[count - 1].boundary_after
        if after is None:
            if self._finished:
                return True
            raise _Undecided
        return after

    def _held_words(self, n: int) -> tuple[int, tuple[str, ...]] | None:
        """How many held tokens spell the first ``n`` words, and those words."""
        joined: list[str] = []
        for count, word in enumerate(self._pending, 1):
            joined += word.norm.split()
            if len(joined) >= n:
                return (count, tuple(joined)) if len(joined) == n else (count, ())
        return None

    def _take(self, count: int) -> list[_Word]:
        taken, self._pending = self._pending[:count], self._pending[count:]
        self.consumed += count
        return taken

    # -- acting ------------------------------------------------------------------------------

    def _type(self, token: str, sentence_end: bool | None = None) -> list[Edit]:
        if not token.strip():
            return []
        if self._at_line_start:
            text = token.lstrip()
        else:
            text = spaced(token) if self.config.add_missing_space else token
        self._at_line_start = False
        self._segments[-1].chars += len(text)
        if token.rstrip().endswith(_SENTENCE_END):
            self._segments.append(_Segment(0, self._at_line_start))
        return [TypeEdit(text)]

    def _apply(self, candidate: _Candidate) -> list[Edit]:
        count = self._held_words(len(candidate.words))
        assert count is not None
        words = self._take(count[0])
        if candidate.command is None:
            lead = words[0].text[: len(words[0].text) - len(words[0].text.lstrip())]
            last = words[-1].text.rstrip()
            tail = last[len(last.rstrip(".,;:!?…")) :]
            return self._type(lead + candidate.text + tail)
        kind = candidate.command
        caption = CAPTIONS[kind]
        match kind:
            case CommandKind.NEW_LINE:
                return self._press([self.config.newline_key], caption)
            case CommandKind.NEW_PARAGRAPH:
                return self._press([self.config.newline_key] * 2, caption)
            case CommandKind.PRESS_ENTER:
                return self._press([Key.RETURN], caption)
            case CommandKind.PRESS_TAB:
                return self._press([Key.TAB], caption)
            case CommandKind.SCRATCH:
                return self._scratch()
            case CommandKind.STOP:
                self._stopped = True
                return [StopEdit()]
        raise AssertionError(kind)  # pragma: no cover

    def _press(self, keys: list[Key], caption: str) -> list[Edit]:
        # Nothing before a pressed key is ever deleted (it may have sent a message).
        self._at_line_start = True
        self._segments = [_Segment(0, True)]
        return [PressEdit(key, caption) for key in keys]

    def _scratch(self) -> list[Edit]:
        while len(self._segments) > 1 and self._segments[-1].chars == 0:
            self._segments.pop()
        segment = self._segments[-1]
        self._at_line_start = segment.at_line_start
        count, segment.chars = segment.chars, 0
        return [DeleteEdit(count, CAPTIONS[CommandKind.SCRATCH])] if count else []


def transform_offline(
    words: Sequence[tuple[str, float]],
    config: VoiceEditConfig,
    vad_after: Iterable[int] = (),
) -> list[Edit]:
    """The edits for a whole transcript at once (``vad_after``: indexes of words followed by
    a ``vad_end``)."""
    ends = set(vad_after)
    transform = VoiceEdits(config)
    edits: list[Edit] = []
    for index, (text, start) in enumerate(words):
        edits += transform.word(text, start)
        if index in ends:
            edits += transform.vad_end()
    return edits + transform.finish()
