"""The sound cue files: short, distinct, loud enough (made by resources/sounds/generate.py)."""

from __future__ import annotations

import numpy as np

from app.audio.cues import Cue, cue_samples


def test_the_cues_are_short_distinct_tones() -> None:
    tones = {cue: cue_samples(cue) for cue in Cue}
    for samples, rate in tones.values():
        assert rate == 24_000
        assert 0.05 < len(samples) / rate < 0.5
        assert 0.2 < float(np.abs(samples).max()) <= 1.0
    assert not np.array_equal(tones[Cue.START][0], tones[Cue.STOP][0])
