"""The Kyutai STT models this project serves, and the facts about them that clients rely on."""

from __future__ import annotations

from dataclasses import dataclass

from server.protocol.audio import FRAME_SECONDS


@dataclass(frozen=True)
class ModelProfile:
    """What the proxy needs to know about a model (PROTOCOL.md section 3)."""

    name: str
    repo: str
    delay_frames: int  # asr_delay_in_tokens: 80 ms steps between audio and its words
    has_vad: bool  # extra heads: Step messages with pause probabilities
    silence_prefix_seconds: float  # silence sent before the client's audio

    @property
    def delay_seconds(self) -> float:
        return self.delay_frames * FRAME_SECONDS

    @property
    def flush_frames(self) -> int:
        """Silence frames sent at once on flush: enough to cover the model delay."""
        return self.delay_frames + 2


STT_1B = ModelProfile("stt-1b-en_fr", "kyutai/stt-1b-en_fr", 6, True, 0.0)
STT_2_6B = ModelProfile("stt-2.6b-en", "kyutai/stt-2.6b-en", 32, False, 1.0)
MODELS = {m.name: m for m in (STT_1B, STT_2_6B)}


def model_profile(name: str) -> ModelProfile:
    """Look a model up by short name (``stt-1b-en_fr``) or repo (``kyutai/stt-1b-en_fr``)."""
    short = name.removeprefix("kyutai/")
    if short not in MODELS:
        raise ValueError(f"unknown model {name!r}; choose one of {', '.join(MODELS)}")
    return MODELS[short]
