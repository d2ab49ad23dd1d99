"""A whole recording through the engine's model, with no server: the words it gives, for
checking that what a client receives through the live path is what the model says."""

from __future__ import annotations

from typing import Any

import numpy as np

from server.engine.batch import BatchModel
from server.engine.words import SlotText
from server.protocol import moshi
from server.protocol.audio import FRAME_SAMPLES


def transcribe(
    model: BatchModel, delay_frames: int, pcm: np.ndarray[Any, Any], slot: int = 0
) -> list[moshi.ServerMessage]:
    """The ``Word``/``EndWord`` messages for ``pcm`` (24 kHz float32, padded to whole frames)
    fed to ``slot`` alone, from a fresh start."""
    text = SlotText(delay_frames, model.decode)
    model.reset([slot])
    padded = np.concatenate((pcm, np.zeros(-len(pcm) % FRAME_SAMPLES, np.float32)))
    out: list[moshi.ServerMessage] = []
    active = [i == slot for i in range(model.batch_size)]
    for frame in padded.reshape(-1, FRAME_SAMPLES):
        batch = np.zeros((model.batch_size, FRAME_SAMPLES), np.float32)
        batch[slot] = frame
        result = model.step(batch, active)
        out += text.step(result.tokens[slot])
    return out
