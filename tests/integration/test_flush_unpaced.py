"""The flush's silence after its ``Marker`` is not paced at real time (issue 8, section 6).

moshi-server echoes a ``Marker`` once its batch has stepped ``delay_frames`` more times, and
it steps only with audio (kyutai-labs/moshi ``rust/moshi-server/src/batched_asr.rs``,
``pre_process``/``post_process``): a stream flushing alone must feed those frames itself. Fed one
per 80 ms, a GPU faster than real time waits and holds the slot about a model delay longer
than needed. These tests run the double's model loop 8x faster than real time and count its
steps at which the flushing stream had a marker pending and no audio to process: steps, not
seconds. Paced silence leaves the model idle for most of those steps; unpaced silence keeps it
fed (a stall shorter than the lead the flush keeps, or than one frame time, idles nothing).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractAsyncContextManager, contextmanager
from pathlib import Path

import numpy as np
import pytest

from app.backend.moshi_client import MoshiStreamClient
from server.models import STT_1B, STT_2_6B, ModelProfile
from server.protocol.audio import FRAME_SECONDS
from server.protocol.backend_rules import FLUSH_LEAD_FRAMES
from server.protocol.stream import End
from tests.conftest import DoubleFactory, ProxyFactory, words_of
from tests.integration.test_moshi_client import endpoint, transcribe, words
from tests.support.clients import stream_audio
from tests.support.moshi_double import MarkerWait, MoshiDouble
from tests.support.speech import SENTENCES, speech

STEP = FRAME_SECONDS / 8  # a model 8x faster than real time
STEPS_PER_FRAME = round(FRAME_SECONDS / STEP)
MODELS = [pytest.param(STT_1B, id="stt-1b"), pytest.param(STT_2_6B, id="stt-2.6b")]


@contextmanager
def flush_steps(double: MoshiDouble) -> Iterator[MarkerWait]:
    """What the double's model loop did while the stream waited for its flush marker."""
    double.marker_wait = MarkerWait()
    yield double.marker_wait


def double_for(
    moshi_double: DoubleFactory, model: ModelProfile
) -> AbstractAsyncContextManager[MoshiDouble]:
    """The double serving ``model``, stepping 8x faster than real time."""
    return moshi_double(
        delay_frames=model.delay_frames, extra_heads=model.has_vad, step_seconds=STEP
    )


def check_unpaced(seen: MarkerWait, model: ModelProfile) -> None:
    assert seen.fed >= model.delay_frames  # the marker came back after the model delay
    # Paced silence idles the model STEPS_PER_FRAME - 1 steps per frame it still needs.
    assert seen.idle < STEPS_PER_FRAME, seen
    if model.has_vad:  # Steps tell the backlog: the flush stays a few frames ahead
        assert seen.most_queued <= FLUSH_LEAD_FRAMES, seen
    else:  # no Steps: the frames the marker needs, no more (paced after that)
        assert seen.most_queued <= model.flush_frames, seen


@pytest.fixture
def utterance(speech_dir: Path) -> np.ndarray:
    return speech([SENTENCES[2]], speech_dir, gap_seconds=0.0)


@pytest.mark.parametrize("model", MODELS)
async def test_proxy_flush_feeds_the_model_without_real_time_pacing(
    moshi_double: DoubleFactory,
    proxy: ProxyFactory,
    utterance: np.ndarray,
    model: ModelProfile,
) -> None:
    async with (
        double_for(moshi_double, model) as double,
        proxy(double.url, model=model) as server,
    ):
        with flush_steps(double) as seen:
            result = await stream_audio(server.url, utterance)
    assert result.words == words_of(SENTENCES[2:3])
    assert result.types[-1] == "end"
    check_unpaced(seen, model)


@pytest.mark.parametrize("model", MODELS)
async def test_direct_client_flush_feeds_the_model_without_real_time_pacing(
    moshi_double: DoubleFactory, utterance: np.ndarray, model: ModelProfile
) -> None:
    async with (
        double_for(moshi_double, model) as double,
        MoshiStreamClient.connect(endpoint(double), model=model) as stream,
    ):
        with flush_steps(double) as seen:
            messages = await transcribe(stream, utterance, speed=4.0)
    assert words(messages) == words_of(SENTENCES[2:3])
    assert messages[-1] == End()
    check_unpaced(seen, model)


async def test_flush_ends_when_steps_never_come(
    moshi_double: DoubleFactory, utterance: np.ndarray
) -> None:
    """A server that sends no Step for a model that should (a wrong model setting): the flush
    falls back to real-time pacing once overdue, and every word still arrives."""
    async with (
        moshi_double(extra_heads=False) as double,
        MoshiStreamClient.connect(endpoint(double), model=STT_1B) as stream,
    ):
        messages = await transcribe(stream, utterance, speed=4.0)
    assert words(messages) == words_of(SENTENCES[2:3])
    assert messages[-1] == End()
