"""Framing and sanitising of PCM."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from server.protocol import ErrorCode, ProtocolError
from server.protocol.audio import FRAME_SAMPLES, Reframer, pcm_from_bytes, sanitize


@given(st.lists(st.integers(0, 5000), max_size=20))
def test_reframer_keeps_every_sample_in_order(chunk_sizes: list[int]) -> None:
    total = sum(chunk_sizes)
    signal = np.arange(total, dtype=np.float32)
    reframer = Reframer()
    frames: list[np.ndarray] = []
    position = 0
    for size in chunk_sizes:
        frames += reframer.push(signal[position : position + size])
        position += size
    assert all(len(f) == FRAME_SAMPLES for f in frames)
    tail = reframer.flush()
    assert (tail is None) == (total % FRAME_SAMPLES == 0)  # only a partial frame is held
    out = np.concatenate([*frames, tail]) if tail is not None else np.concatenate([*frames, []])
    np.testing.assert_array_equal(out[:total], signal)
    assert len(out) == -(-total // FRAME_SAMPLES) * FRAME_SAMPLES  # padded to a whole frame
    assert not out[total:].any()
    assert reframer.flush() is None


@given(st.lists(st.floats(width=32), max_size=100))
def test_sanitize_gives_finite_samples_in_range(values: list[float]) -> None:
    raw = np.asarray(values, np.float32)
    clean = sanitize(raw)
    assert clean.dtype == np.float32
    assert np.isfinite(clean).all()
    assert (np.abs(clean) <= 1).all()
    ok = np.isfinite(raw) & (np.abs(raw) <= 1)
    np.testing.assert_array_equal(clean[ok], raw[ok])
    assert (clean[~np.isfinite(raw)] == 0).all()


def test_odd_byte_counts_are_bad_audio() -> None:
    assert len(pcm_from_bytes(b"\x00" * 8)) == 2
    with pytest.raises(ProtocolError) as caught:
        pcm_from_bytes(b"\x00" * 9)
    assert caught.value.code is ErrorCode.BAD_AUDIO
