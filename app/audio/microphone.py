"""Microphone capture through PortAudio (sounddevice): 24 kHz mono float32, 80 ms frames.

PortAudio calls back on its own thread; the callback only copies the block and hands it to the
asyncio loop with ``call_soon_threadsafe``. Device choice (:func:`choose_device`) is pure.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from types import ModuleType, TracebackType
from typing import Any, Self

import numpy as np

from app.audio import portaudio
from app.core.errors import AppError, UsageError
from server.protocol.audio import FRAME_SAMPLES, SAMPLE_RATE, Samples

log = logging.getLogger(__name__)

NO_DEVICES_HINT = (
    "no audio input devices found (is a microphone connected, and on Linux is a sound server "
    "such as PipeWire or PulseAudio running, with libasound2-plugins installed?)"
)


class MicrophoneError(AppError):
    """Audio capture is unavailable or failed."""


class UnknownDeviceError(UsageError):
    """``--device`` names no input device (or several)."""


@dataclass(frozen=True, slots=True)
class InputDevice:
    """A PortAudio device that can capture audio."""

    index: int
    name: str
    host_api: str
    channels: int
    default_samplerate: float
    is_default: bool


def list_input_devices() -> list[InputDevice]:
    """Every device with input channels, in PortAudio's order."""
    sd = sounddevice_module()
    try:
        devices: list[dict[str, Any]] = list(sd.query_devices())
        host_apis = [str(api["name"]) for api in sd.query_hostapis()]
        default_input = int(sd.default.device[0])
    except sd.PortAudioError as exc:
        raise MicrophoneError(f"cannot list audio devices: {exc}") from None
    return [
        InputDevice(
            index=int(info["index"]),
            name=str(info["name"]),
            host_api=host_apis[int(info["hostapi"])],
            channels=int(info["max_input_channels"]),
            default_samplerate=float(info["default_samplerate"]),
            is_default=int(info["index"]) == default_input,
        )
        for info in devices
        if int(info["max_input_channels"]) > 0
    ]


def rescan_devices() -> None:
    """Make PortAudio list the devices again (it lists them once, when it starts), so a
    microphone plugged in since shows up. Re-initialising PortAudio closes every open
    stream: call it only while nothing captures."""
    sd = sounddevice_module()
    try:
        with portaudio.quiet() as quiet:
            if not quiet:
                log.debug("a sound cue still plays: the device list is not rescanned now")
                return
            sd._terminate()
            sd._initialize()
    except Exception as exc:  # keep the old list rather than fail
        log.debug("could not rescan audio devices: %s", exc)


def format_devices(devices: Sequence[InputDevice]) -> str:
    """A table of ``devices``, one per line; ``*`` marks the default."""
    lines = [f"{'':1} {'index':>5}  {'channels':>8}  {'rate':>7}  name"]
    for device in devices:
        mark = "*" if device.is_default else ""
        lines.append(
            f"{mark:1} {device.index:>5}  {device.channels:>8}  "
            f"{device.default_samplerate:>7.0f}  {device.name} ({device.host_api})"
        )
    return "\n".join(lines)


def choose_device(spec: str | None, devices: Sequence[InputDevice]) -> InputDevice | None:
    """The device ``spec`` names: an index, an exact name, or a unique name substring
    (case-insensitive). None for no spec (PortAudio's default input).

    Raises :class:`UnknownDeviceError` listing the devices when nothing or several match.
    """
    if spec is None or not spec.strip():
        return None
    spec = spec.strip()
    if spec.lstrip("-").isdigit():
        matches = [device for device in devices if device.index == int(spec)]
    else:
        wanted = spec.casefold()
        matches = [device for device in devices if device.name.casefold() == wanted]
        if not matches:
            matches = [device for device in devices if wanted in device.name.casefold()]
    if len(matches) == 1:
        return matches[0]
    if not devices:
        raise UnknownDeviceError(f"no input device {spec!r}: {NO_DEVICES_HINT}")
    problem = "matches several input devices" if matches else "is not an input device"
    listing = format_devices(matches or devices)
    raise UnknownDeviceError(f"--device {spec!r} {problem}; choose one of:\n{listing}")


def start_input_stream(
    device: int | None,
    callback: Callable[..., None],
    *,
    blocksize: int = FRAME_SAMPLES,
    finished_callback: Callable[[], None] | None = None,
    sd: ModuleType | None = None,
) -> Any:
    """A started 24 kHz mono float32 PortAudio input stream calling ``callback`` per block.

    Raises :class:`MicrophoneError` (nothing is left open) when the device cannot capture.
    """
    sd = sd or sounddevice_module()
    stream = None
    try:
        with portaudio.LOCK:
            stream = sd.InputStream(
                samplerate=SAMPLE_RATE,
                channels=1,
                dtype="float32",
                blocksize=blocksize,
                device=device,
                callback=callback,
                finished_callback=finished_callback,
            )
            stream.start()
    except (sd.PortAudioError, ValueError) as exc:
        if stream is not None:
            with portaudio.LOCK:
                stream.close()
        raise MicrophoneError(str(exc)) from None
    return stream


class Microphone:
    """Captures 80 ms frames from an input device while open (``async with``).

    Frames captured before :meth:`stop` are all delivered by :meth:`frames`, then it ends.
    """

    def __init__(self, device: int | None = None) -> None:
        self._device = device
        self._queue: asyncio.Queue[tuple[Samples, Any] | None] = asyncio.Queue()
        self._stream: Any = None

    async def __aenter__(self) -> Self:
        loop = asyncio.get_running_loop()
        queue = self._queue

        def callback(indata: np.ndarray[Any, Any], frames: int, time: Any, status: Any) -> None:
            _hand_over(loop, queue, (indata[:, 0].copy(), status))

        def finished() -> None:  # the stream stopped, whatever the reason: end frames()
            _hand_over(loop, queue, None)

        try:
            self._stream = start_input_stream(self._device, callback, finished_callback=finished)
        except MicrophoneError as exc:
            raise MicrophoneError(
                f"cannot open the microphone{self._which()}: {exc} (the device must capture "
                f"mono at {SAMPLE_RATE} Hz; PipeWire/PulseAudio devices such as 'default' "
                "or 'pulse' convert any rate)"
            ) from None
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()
        self._close()

    def stop(self) -> None:
        """Stop capturing; :meth:`frames` ends after the frames already captured.

        Blocks for at most one block (80 ms) while PortAudio finishes its last callback.
        """
        if self._stream is None or self._stream.stopped:
            return
        self._stream.stop()
        # call_soon queues behind every block the callback handed over before stop() returned.
        asyncio.get_running_loop().call_soon(self._queue.put_nowait, None)

    async def frames(self) -> AsyncIterator[Samples]:
        """Yield each captured 1920-sample frame until the microphone is stopped."""
        while (item := await self._queue.get()) is not None:
            frame, status = item
            if status:
                log.warning("microphone: %s", status)
            yield frame

    def _close(self) -> None:
        if self._stream is not None:
            with portaudio.LOCK:
                self._stream.close()
            self._stream = None

    def _which(self) -> str:
        return "" if self._device is None else f" (device {self._device})"


def _hand_over(
    loop: asyncio.AbstractEventLoop,
    queue: asyncio.Queue[tuple[Samples, Any] | None],
    item: tuple[Samples, Any] | None,
) -> None:
    """From PortAudio's thread: queue ``item`` on the loop (dropped once the loop is closed)."""
    with contextlib.suppress(RuntimeError):
        loop.call_soon_threadsafe(queue.put_nowait, item)


def sounddevice_module() -> ModuleType:
    try:
        import sounddevice
    except OSError as exc:  # the wheel loads the PortAudio shared library at import time
        raise MicrophoneError(
            f"PortAudio is not installed ({exc}): install it with your package manager "
            "(Debian, Ubuntu: libportaudio2; Fedora: portaudio; Arch: portaudio)"
        ) from None
    module: ModuleType = sounddevice
    return module
