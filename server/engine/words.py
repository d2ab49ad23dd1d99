"""One slot's text tokens into ``Word``/``EndWord`` messages, by moshi-server's rules.

Written from kyutai-labs/moshi ``rust/moshi-core/src/asr.rs`` (``ItemState`` and
``State::step_tokens``): after ``delay`` steps, a padding token (3) or end-of-padding (0)
closes the word being spelled, which is sent with the last stop time as its start; an
end-of-padding token sets the stop time and, if a word was sent since, an ``EndWord``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from server.models import STEP_SECONDS
from server.protocol import moshi

PAD, EPAD = 3, 0  # moshi lm.py: existing_text_padding_id, existing_text_end_padding_id


@dataclass
class SlotText:
    """One slot's word state (``ItemState``), reset by ``Init``."""

    delay_frames: int
    decode: Callable[[list[int]], str]
    step_idx: int = 0
    word_tokens: list[int] = field(default_factory=list)
    unended_word: bool = False
    last_stop_time: float = 0.0

    def reset(self) -> None:
        self.step_idx = 0
        self.word_tokens = []
        self.unended_word = False
        self.last_stop_time = 0.0

    def step(self, token: int) -> list[moshi.ServerMessage]:
        """The messages that this step's text token brings."""
        self.step_idx += 1
        if self.step_idx < self.delay_frames:
            return []
        out: list[moshi.ServerMessage] = []
        if token in (PAD, EPAD):
            if self.word_tokens:
                out.append(moshi.Word(self.decode(self.word_tokens), self.last_stop_time))
                self.word_tokens = []
                self.unended_word = True
        else:
            self.word_tokens.append(token)
        if token == EPAD:
            stop_time = (self.step_idx - self.delay_frames) * STEP_SECONDS
            if self.unended_word:
                self.unended_word = False
                out.append(moshi.EndWord(stop_time))
            self.last_stop_time = stop_time
        return out
