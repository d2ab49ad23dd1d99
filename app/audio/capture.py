"""Microphone capture for the desktop app: open at key-down, closed at key-up.

The device is chosen by name, which stays the same across reboots and replugging (PortAudio's
indices do not); an empty name means the system default. PortAudio's device list is read
afresh before each opening, so a microphone plugged in after the app started is found.
The PortAudio callback only copies the block and hands it to the loop; when the stream dies
on its own (device unplugged), ``on_failure`` is called on the loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from time import monotonic as time_now
from typing import Any

import numpy as np

from app.audio import portaudio
from app.audio.microphone import (
    NO_DEVICES_HINT,
    MicrophoneError,
    list_input_devices,
    rescan_devices,
    sounddevice_module,
    start_input_stream,
)

log = logging.getLogger(__name__)


def find_device(name: str) -> int | None:
    """PortAudio's index of the input device called ``name`` (None: the default device).

    Raises :class:`MicrophoneError` when it is not connected.
    """
    if not name:
        return None  # no listing: probing every ALSA device takes a while
    devices = list_input_devices()
    if not devices:
        raise MicrophoneError(NO_DEVICES_HINT)
    for device in devices:
        if device.name == name:
            return device.index
    raise MicrophoneError(
        f"the microphone {name!r} is not connected: plug it in, or choose another in Settings"
    )


class Capture:
    """Delivers 1920-sample float32 frames (as bytes) to ``on_frame`` while open."""

    def __init__(
        self,
        on_frame: Callable[[bytes], None],
        on_failure: Callable[[str], None],
    ) -> None:
        self._on_frame = on_frame
        self._on_failure = on_failure
        self._stream: Any = None

    def prepare(self) -> None:
        """Load and initialise PortAudio (about 0.1 s) ahead of the first dictation."""
        try:
            sounddevice_module()
        except MicrophoneError as exc:
            log.warning("%s", exc)  # said again, visibly, when a dictation starts

    @property
    def running(self) -> bool:
        return self._stream is not None

    def open(self, device_name: str) -> None:
        """Start capturing from ``device_name`` ("" = default). Raises :class:`MicrophoneError`."""
        if self._stream is not None:
            return
        sd = sounddevice_module()
        try:
            device = find_device(device_name)
        except MicrophoneError:
            rescan_devices()  # plugged in since PortAudio started?
            device = find_device(device_name)
        loop = asyncio.get_running_loop()
        on_frame = self._on_frame

        def callback(indata: np.ndarray[Any, Any], frames: int, time: Any, status: Any) -> None:
            data = indata[:, 0].tobytes()
            with contextlib.suppress(RuntimeError):  # the loop is closed: quitting
                loop.call_soon_threadsafe(on_frame, data)

        def finished() -> None:
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(self._finished, stream)

        try:
            stream = start_input_stream(device, callback, finished_callback=finished, sd=sd)
        except MicrophoneError as exc:
            which = f" {device_name!r}" if device_name else ""
            raise MicrophoneError(f"cannot open the microphone{which}: {exc}") from None
        self._stream = stream
        log.info("capturing from %s", device_name or "the default microphone")
        log.debug("capture started at %.6f", time_now())

    def close(self) -> None:
        """Stop capturing. Every frame captured so far is handed to the loop before any
        callback scheduled after this returns (so "stop" can follow the last frame)."""
        stream, self._stream = self._stream, None
        if stream is None:
            return
        try:
            with portaudio.LOCK:
                stream.stop()  # waits for the callback in progress
                stream.close()
        except Exception as exc:  # a vanished device can fail to stop; it is closed anyway
            log.warning("closing the microphone: %s", exc)

    def _finished(self, stream: Any) -> None:
        if stream is not self._stream:
            return  # closed by us (close() forgot it first), or an earlier stream
        self._stream = None
        with contextlib.suppress(Exception):
            stream.close()
        self._on_failure("the microphone stopped delivering audio (unplugged?)")


__all__ = ["Capture", "MicrophoneError", "find_device"]
