"""Reading audio files as 24 kHz mono, and the band-limited resampler."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile

from app.audio.audio_file import AudioFileError, load_audio_file
from app.audio.resample import resample
from server.protocol.audio import SAMPLE_RATE


def tone(frequency: float, rate: int, seconds: float = 1.0, amplitude: float = 0.5) -> np.ndarray:
    return amplitude * np.sin(2 * np.pi * frequency * np.arange(int(rate * seconds)) / rate)


def dominant_frequency(samples: np.ndarray, rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(len(samples))))
    return float(np.fft.rfftfreq(len(samples), 1 / rate)[np.argmax(spectrum)])


def interior(samples: np.ndarray, margin: int = 2400) -> np.ndarray:
    return samples[margin:-margin]


def test_16_khz_sine_becomes_24_khz_at_the_same_frequency(tmp_path: Path) -> None:
    path = tmp_path / "a.wav"
    soundfile.write(path, tone(440, 16_000), 16_000, subtype="PCM_16")
    samples = load_audio_file(path)
    assert samples.dtype == np.float32
    assert samples.ndim == 1
    assert len(samples) == SAMPLE_RATE
    assert dominant_frequency(samples, SAMPLE_RATE) == pytest.approx(440, abs=1)
    expected = tone(440, SAMPLE_RATE)
    assert np.abs(interior(samples) - interior(expected)).max() < 1e-3  # 16-bit rounding


def test_stereo_is_averaged_to_mono(tmp_path: Path) -> None:
    path = tmp_path / "stereo.wav"
    left, right = tone(300, SAMPLE_RATE), tone(700, SAMPLE_RATE, amplitude=0.25)
    soundfile.write(path, np.stack([left, right], axis=1), SAMPLE_RATE, subtype="FLOAT")
    samples = load_audio_file(path)
    np.testing.assert_allclose(samples, (left + right) / 2, atol=1e-6)


def test_24_khz_mono_is_read_unchanged(tmp_path: Path) -> None:
    path = tmp_path / "same.wav"
    original = tone(1000, SAMPLE_RATE, 0.3).astype(np.float32)
    soundfile.write(path, original, SAMPLE_RATE, subtype="FLOAT")
    np.testing.assert_array_equal(load_audio_file(path), original)


def test_not_audio(tmp_path: Path) -> None:
    path = tmp_path / "notes.wav"
    path.write_text("this is not a WAV file")
    with pytest.raises(AudioFileError, match=r"notes\.wav: cannot read audio"):
        load_audio_file(path)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(AudioFileError, match="no such file"):
        load_audio_file(tmp_path / "absent.wav")


def test_directory(tmp_path: Path) -> None:
    with pytest.raises(AudioFileError, match="no such file"):
        load_audio_file(tmp_path)


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.wav"
    soundfile.write(path, np.zeros(0), SAMPLE_RATE)
    with pytest.raises(AudioFileError, match="no audio"):
        load_audio_file(path)


@pytest.mark.parametrize(
    ("rate_in", "frequency"),
    [(8_000, 1_000), (16_000, 6_000), (22_050, 440), (44_100, 3_000), (48_000, 10_000)],
)
def test_resampled_tones_match_the_ideal_tone(rate_in: int, frequency: float) -> None:
    out = resample(tone(frequency, rate_in), rate_in, SAMPLE_RATE)
    assert len(out) == SAMPLE_RATE
    error = np.abs(interior(out) - interior(tone(frequency, SAMPLE_RATE))).max()
    assert error < 1e-3


def test_downsampling_removes_what_24_khz_cannot_hold() -> None:
    out = resample(tone(15_000, 48_000), 48_000, SAMPLE_RATE)  # above the 12 kHz Nyquist
    assert np.sqrt(np.mean(interior(out) ** 2)) < 1e-3  # attenuated, not aliased to 9 kHz


def test_resample_length_and_dc() -> None:
    out = resample(np.ones(441), 44_100, SAMPLE_RATE)
    assert len(out) == 240
    np.testing.assert_allclose(out[100:140], 1.0, atol=1e-6)


def test_resample_validates() -> None:
    with pytest.raises(ValueError, match="positive"):
        resample(np.zeros(4), 0, SAMPLE_RATE)
    with pytest.raises(ValueError, match="mono"):
        resample(np.zeros((4, 2)), 16_000, SAMPLE_RATE)
    assert len(resample(np.zeros(0), 16_000, SAMPLE_RATE)) == 0
