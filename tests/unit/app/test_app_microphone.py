"""Choosing and listing input devices (pure), and the devices of a real sound server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from app.audio.microphone import (
    InputDevice,
    UnknownDeviceError,
    choose_device,
    format_devices,
    list_input_devices,
)
from tests.support.pulse import VirtualMicrophone, heard_in_this_process, virtual_microphone

DEVICES = [
    InputDevice(0, "HDA Intel PCH: ALC257 Analog (hw:0,0)", "ALSA", 2, 44100.0, False),
    InputDevice(4, "USB Headset: Audio (hw:2,0)", "ALSA", 1, 48000.0, False),
    InputDevice(7, "pulse", "ALSA", 32, 44100.0, False),
    InputDevice(8, "default", "ALSA", 32, 44100.0, True),
]


def test_no_spec_means_the_default_device() -> None:
    assert choose_device(None, DEVICES) is None
    assert choose_device("  ", DEVICES) is None


def test_by_index() -> None:
    assert choose_device("4", DEVICES) == DEVICES[1]


def test_by_case_insensitive_substring() -> None:
    assert choose_device("usb headset", DEVICES) == DEVICES[1]


def test_exact_name_beats_substrings() -> None:
    # "default" is also part of the added device's name: the exact match wins.
    devices = [*DEVICES, InputDevice(9, "default (echo cancel)", "ALSA", 1, 48000.0, False)]
    assert choose_device("DEFAULT", devices) == DEVICES[3]


def test_unknown_device_lists_the_devices() -> None:
    with pytest.raises(UnknownDeviceError, match="not an input device") as caught:
        choose_device("webcam", DEVICES)
    assert "USB Headset" in str(caught.value)


def test_unknown_index() -> None:
    with pytest.raises(UnknownDeviceError, match="'3'"):
        choose_device("3", DEVICES)


def test_ambiguous_name_lists_the_matches() -> None:
    with pytest.raises(UnknownDeviceError, match="several") as caught:
        choose_device("hw:", DEVICES)
    assert "ALC257" in str(caught.value)
    assert "pulse" not in str(caught.value)


def test_no_devices_at_all() -> None:
    with pytest.raises(UnknownDeviceError, match="no audio input devices"):
        choose_device("usb", [])


def test_format_marks_the_default() -> None:
    lines = format_devices(DEVICES).splitlines()
    assert len(lines) == 1 + len(DEVICES)
    assert lines[4].startswith("*")
    assert "default (ALSA)" in lines[4]
    assert not lines[2].startswith("*")
    assert "48000" in lines[2]


@pytest.fixture
def sound_server(tmp_path: Path) -> Iterator[VirtualMicrophone]:
    """A PulseAudio server with a virtual microphone that this process's PortAudio sees."""
    with virtual_microphone(tmp_path / "pulse") as mic, heard_in_this_process(mic):
        yield mic


def test_listing_returns_the_sound_servers_microphone(sound_server: VirtualMicrophone) -> None:
    # ALSA's pulse plugin shows the sound server to PortAudio as the devices "pulse" and
    # "default"; the server's default source is the virtual microphone.
    devices = list_input_devices()
    names = [device.name for device in devices]
    assert "pulse" in names
    assert "default" in names
    assert all(device.channels > 0 for device in devices)
    assert [device.name for device in devices if device.is_default] == ["default"]
