"""End-of-speech detection from moshi-server's pause predictions (PROTOCOL.md section 3)."""

from __future__ import annotations

from dataclasses import dataclass

PAUSE_HEAD = 2  # prs[2]: probability of a 2 s pause
THRESHOLD = 0.5
WARMUP_STEPS = 12  # the heads are unreliable at the start of a stream


@dataclass
class VadTracker:
    """Decides when to send ``vad_end``: at most once per utterance, only after a word."""

    steps: int = 0
    word_since_vad_end: bool = False

    def on_word(self) -> None:
        self.word_since_vad_end = True

    def on_step(self, prs: tuple[float, ...]) -> bool:
        """Feed one Step's pause probabilities; True when ``vad_end`` is due now."""
        self.steps += 1
        if self.steps <= WARMUP_STEPS or not self.word_since_vad_end:
            return False
        if len(prs) > PAUSE_HEAD and prs[PAUSE_HEAD] > THRESHOLD:
            self.word_since_vad_end = False
            return True
        return False
