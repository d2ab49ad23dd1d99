"""Band-limited sample-rate conversion in numpy (pure): Kaiser-windowed sinc, polyphase.

Output sample ``n`` sits at input position ``n * rate_in / rate_out``, computed with exact
integer arithmetic, so long signals do not drift. The low-pass cutoff is just below the lower
of the two Nyquist frequencies, so downsampling does not alias and upsampling adds no images.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from server.protocol.audio import Samples

_CHUNK_ELEMENTS = 1 << 22  # bounds the temporary (outputs x taps) matrix to ~32 MB


def resample(
    samples: npt.NDArray[np.floating],
    rate_in: int,
    rate_out: int,
    *,
    zero_crossings: int = 32,
    rolloff: float = 0.94,
    beta: float = 10.0,
) -> Samples:
    """Convert mono ``samples`` from ``rate_in`` Hz to ``rate_out`` Hz (float32 result).

    The result has ``ceil(len(samples) * rate_out / rate_in)`` samples. ``zero_crossings`` is the
    filter half-length in sinc zero crossings, ``rolloff`` the cutoff as a fraction of the lower
    Nyquist frequency, ``beta`` the Kaiser window shape (10 gives about 100 dB stopband).
    """
    if rate_in <= 0 or rate_out <= 0:
        raise ValueError(f"sample rates must be positive, got {rate_in} and {rate_out}")
    x = np.asarray(samples, dtype=np.float64)
    if x.ndim != 1:
        raise ValueError(f"expected mono samples (1-D), got shape {x.shape}")
    if rate_in == rate_out or not len(x):
        return x.astype(np.float32)
    common = math.gcd(rate_in, rate_out)
    up, down = rate_out // common, rate_in // common
    cutoff = rolloff * min(1.0, up / down)  # fraction of the input Nyquist frequency
    half_width = zero_crossings / cutoff  # in input samples
    taps = np.arange(-math.ceil(half_width) + 1, math.ceil(half_width) + 1)
    table = _filter_table(up, taps, cutoff, half_width, beta)

    n_out = -(-len(x) * up // down)
    pad = len(taps)
    padded = np.concatenate((np.zeros(pad), x, np.zeros(pad)))
    out = np.empty(n_out, dtype=np.float32)
    chunk = max(1, _CHUNK_ELEMENTS // len(taps))
    for begin in range(0, n_out, chunk):
        n = np.arange(begin, min(begin + chunk, n_out), dtype=np.int64)
        base, phase = np.divmod(n * down, up)
        window = padded[(base + pad)[:, None] + taps[None, :]]
        out[begin : begin + len(n)] = np.einsum("ij,ij->i", window, table[phase])
    return out


def _filter_table(
    up: int, taps: npt.NDArray[np.int64], cutoff: float, half_width: float, beta: float
) -> npt.NDArray[np.float64]:
    """Row ``p``: the filter taps for an output that falls ``p / up`` past an input sample."""
    frac = np.arange(up, dtype=np.float64)[:, None] / up
    distance = frac - taps[None, :]  # output position minus input sample position
    inside = np.clip(1.0 - (distance / half_width) ** 2, 0.0, None)
    window = np.i0(beta * np.sqrt(inside)) / np.i0(beta)
    window[np.abs(distance) >= half_width] = 0.0
    table = cutoff * np.sinc(cutoff * distance) * window
    table /= table.sum(axis=1, keepdims=True)  # unity gain at DC for every phase
    return table
