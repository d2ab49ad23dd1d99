"""Pipeline integrity: the engine is deterministic, so the words that reach a client through
the proxy must be the words the engine gives offline for the same audio; any audio lost,
duplicated or reordered on the way would change them."""

from __future__ import annotations

import numpy as np

from server.engine.batch import BatchModel
from server.engine.offline import transcribe
from server.models import STT_1B
from server.protocol import moshi
from server.protocol.audio import FRAME_SAMPLES
from tests.conftest import ProxyFactory
from tests.engine.conftest import EngineFactory
from tests.support.clients import stream_audio


def offline_words(model: BatchModel, delay: int, audio: np.ndarray) -> list[str]:
    """The engine's words for ``audio`` and the proxy's flush (whole frames of silence)."""
    padded = np.concatenate((audio, np.zeros(-len(audio) % FRAME_SAMPLES, np.float32)))
    flushed = np.concatenate((padded, np.zeros(STT_1B.flush_frames * FRAME_SAMPLES, np.float32)))
    words = transcribe(model, delay, flushed)
    return " ".join(m.text for m in words if isinstance(m, moshi.Word)).split()


async def test_words_through_the_proxy_equal_the_engines_offline_words(
    engine: EngineFactory,
    proxy: ProxyFactory,
    offline_model: BatchModel,
    two_sentences: np.ndarray,
) -> None:
    # batch 1 as offline: the same kernels, so the same floats (between batch sizes, float
    # rounding can flip a near-tie in the random Mimi's codebooks: test_engine_protocol.py
    # compares batch sizes on the logits)
    async with engine(batch_size=1) as server:
        expected = offline_words(offline_model, server.facts.delay_frames, two_sentences)
        async with proxy(server.url) as relay:
            # chunks that do not line up with frames, faster than real time
            result = await stream_audio(relay.url, two_sentences, chunk=1000, speed=8.0)
    assert len(expected) > 5
    assert " ".join(result.words).split() == expected
    assert result.types[-1] == "end"
