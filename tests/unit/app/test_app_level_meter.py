"""The settings dialog's level meter: its capture (a stand-in PortAudio) and its scale."""

from __future__ import annotations

import types
from typing import Any

import numpy as np
import pytest

from app.audio.level_meter import LevelMeter, level_percent
from app.audio.microphone import MicrophoneError


class FakeStream:
    def __init__(self, **options: Any) -> None:
        self.options = options
        self.started = False
        self.closed = False
        if options["device"] == 99:
            raise ValueError("No input device matching 99")

    def start(self) -> None:
        if self.options["device"] == 98:
            raise FakePortAudioError("Device unavailable")
        self.started = True

    def close(self) -> None:
        self.closed = True


class FakePortAudioError(Exception):
    pass


def fake_sounddevice(streams: list[FakeStream]) -> types.ModuleType:
    module = types.ModuleType("sounddevice")

    def input_stream(**options: Any) -> FakeStream:
        stream = FakeStream(**options)
        streams.append(stream)
        return stream

    module.InputStream = input_stream  # type: ignore[attr-defined]
    module.PortAudioError = FakePortAudioError  # type: ignore[attr-defined]
    return module


def test_the_peak_is_kept_until_taken() -> None:
    streams: list[FakeStream] = []
    meter = LevelMeter(fake_sounddevice(streams))
    meter.open(3)
    (stream,) = streams
    assert stream.started
    assert stream.options["device"] == 3
    assert stream.options["samplerate"] == 24000  # as dictation captures
    assert stream.options["channels"] == 1
    callback = stream.options["callback"]
    callback(np.array([[0.1], [-0.4], [0.2]], dtype=np.float32), 3, None, None)
    callback(np.array([[0.05]], dtype=np.float32), 1, None, None)
    assert meter.take_peak() == pytest.approx(0.4)
    assert meter.take_peak() == 0.0
    meter.close()
    assert stream.closed
    assert not meter.is_open
    meter.close()  # idempotent


def test_opening_another_device_closes_the_first() -> None:
    streams: list[FakeStream] = []
    meter = LevelMeter(fake_sounddevice(streams))
    meter.open(1)
    meter.open(None)
    assert streams[0].closed
    assert streams[1].started
    assert streams[1].options["device"] is None


@pytest.mark.parametrize(("device", "message"), [(99, "No input device"), (98, "unavailable")])
def test_a_device_that_fails_raises_a_microphone_error(device: int, message: str) -> None:
    streams: list[FakeStream] = []
    meter = LevelMeter(fake_sounddevice(streams))
    with pytest.raises(MicrophoneError, match=message):
        meter.open(device)
    assert not meter.is_open
    assert all(stream.closed for stream in streams)


def test_a_missing_device_through_real_portaudio() -> None:
    with pytest.raises(MicrophoneError, match="cannot open this microphone"):
        LevelMeter().open(12345)


@pytest.mark.parametrize(
    ("peak", "percent"),
    [(0.0, 0), (0.0001, 0), (0.001, 0), (0.01, 33), (0.1, 67), (0.5, 90), (1.0, 100), (2.0, 100)],
)
def test_the_bar_is_in_decibels(peak: float, percent: int) -> None:
    assert level_percent(peak) == percent
