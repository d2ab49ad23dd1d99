"""Hands-free mode: when a dictation ends by itself (pure; times in seconds of one clock).

It ends when the model has predicted the end of speech (``vad_end``) and then no word came for
``silence`` seconds. The judge is the model's semantic end-of-speech prediction, never the
volume: a volume threshold cuts quiet speakers off and fires on breaths. A model without pause
prediction (stt-2.6b-en) sends no ``vad_end``; then no word for ``wordless`` seconds ends it.
Two safety nets: nothing said at all within ``first_word`` seconds, or no word for
``WORDLESS_SAFETY`` seconds even with a model that predicts pauses (a ``vad_end`` lost).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

WORDLESS_SAFETY = 20.0


class EndReason(Enum):
    SPEECH_ENDED = "the speech ended"
    NO_WORDS = "no words for a while"
    NOTHING_SAID = "nothing was said"


@dataclass
class AutoStop:
    started: float
    has_vad: bool = True  # the model predicts pauses (stt-1b-en_fr)
    silence: float = 1.0  # after vad_end, this long without a word ends the dictation
    wordless: float = 3.0  # without pause prediction: this long without a word ends it
    first_word: float = 10.0
    _last_word: float | None = None
    _vad_end: float | None = None  # the vad_end not yet followed by a word

    def word(self, now: float) -> None:
        self._last_word, self._vad_end = now, None

    def vad_end(self, now: float) -> None:
        if self._last_word is not None:  # a pause before anything was said ends nothing
            self._vad_end = now

    @property
    def due(self) -> tuple[float, EndReason]:
        """When the dictation ends unless a word comes first, and why it would."""
        if self._last_word is None:
            return self.started + self.first_word, EndReason.NOTHING_SAID
        if self._vad_end is not None:
            return self._vad_end + self.silence, EndReason.SPEECH_ENDED
        wordless = self.wordless if not self.has_vad else WORDLESS_SAFETY
        return self._last_word + wordless, EndReason.NO_WORDS

    def ended(self, now: float) -> EndReason | None:
        """Why the dictation is over at ``now``, or None while it goes on."""
        at, reason = self.due
        return reason if now >= at else None
