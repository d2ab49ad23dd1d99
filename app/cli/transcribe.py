"""``kyutai-dictate transcribe``: stream the microphone or a file, print the words live."""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from app.audio.audio_file import load_audio_file
from app.audio.microphone import (
    NO_DEVICES_HINT,
    Microphone,
    MicrophoneError,
    choose_device,
    list_input_devices,
)
from app.audio.pacing import paced_frames, until_set
from app.backend.connect import open_v1_stream
from app.backend.stream_client import StreamClient
from app.backend.stream_runner import run_stream
from app.cli.interrupt import first_interrupt_calls
from app.cli.transcript_lines import TranscriptLines
from app.core.endpoint import Endpoint
from app.core.settings import ServerProtocol
from app.core.voice_edits import Rule, VoiceEditConfig, VoiceEdits
from server.models import STT_1B, ModelProfile
from server.protocol.stream import End, Ready, ServerMessage, Token, VadEnd

log = logging.getLogger(__name__)

_OnMessage = Callable[[ServerMessage], None]


@dataclass(frozen=True, slots=True)
class TranscribeOptions:
    """Everything ``transcribe`` needs, validated by the command line."""

    endpoint: Endpoint
    file: Path | None = None  # None: the microphone
    rtf: float = 1.0
    device: str | None = None
    open_timeout: float = 60.0
    drain_timeout: float = 30.0
    protocol: ServerProtocol = ServerProtocol.AUTO
    model: ModelProfile = STT_1B  # the original service's model (its release needs the delay)
    raw: bool = False  # the words as spoken: no voice commands, no replacement rules
    rules: tuple[Rule, ...] = ()


def run_transcribe(
    options: TranscribeOptions, out: TextIO | None = None, err: TextIO | None = None
) -> int:
    """Transcribe until the file ends or Ctrl-C (words to stdout, notes to stderr by default).

    Failures raise :class:`AppError`.
    """
    asyncio.run(transcribe(options, out or sys.stdout, err or sys.stderr))
    return 0


async def transcribe(options: TranscribeOptions, out: TextIO, err: TextIO) -> None:
    """Stream the chosen source, printing tokens as they come; Ctrl-C (or "stop dictation")
    ends the audio."""
    edits = None
    if not options.raw:
        # A terminal prints tokens as they come (the original service's come without spaces).
        config = VoiceEditConfig(rules=options.rules, add_missing_space=False)
        edits = VoiceEdits(config)
    lines = TranscriptLines(edits)
    stop = asyncio.Event()

    def write(text: str) -> None:
        if text:
            out.write(text)
            out.flush()

    def on_message(message: ServerMessage) -> None:
        match message:
            case Token(text, start):
                write(lines.token(text, start))
                if lines.stop_requested:
                    stop.set()
            case VadEnd():
                write(lines.vad_end())
                if lines.stop_requested:
                    stop.set()
            case Ready():
                log.info("the backend is ready")
            case End():
                log.info("the server flushed every word")

    try:
        if options.file is not None:
            await _transcribe_file(options, options.file, on_message, err, stop)
        else:
            await _transcribe_microphone(options, on_message, err, stop)
    finally:
        write(lines.finish())


@asynccontextmanager
async def _connect(options: TranscribeOptions, err: TextIO) -> AsyncIterator[StreamClient]:
    async with open_v1_stream(
        options.endpoint,
        protocol=options.protocol,
        model=options.model,
        open_timeout=options.open_timeout,
    ) as stream:
        if stream.legacy:
            print(
                "note: the server speaks the original service's protocol (no end of stream): "
                f"the last words are pushed out with silence (model {options.model.name})",
                file=err,
                flush=True,
            )
        yield stream


async def _transcribe_file(
    options: TranscribeOptions, file: Path, on_message: _OnMessage, err: TextIO, stop: asyncio.Event
) -> None:
    samples = load_audio_file(file)
    with first_interrupt_calls(stop.set):
        async with _connect(options, err) as stream:
            frames = until_set(stop, paced_frames(samples, options.rtf))
            await run_stream(stream, frames, on_message, drain_timeout=options.drain_timeout)


async def _transcribe_microphone(
    options: TranscribeOptions, on_message: _OnMessage, err: TextIO, stop: asyncio.Event
) -> None:
    devices = list_input_devices()
    if not devices:
        raise MicrophoneError(NO_DEVICES_HINT)
    device = choose_device(options.device, devices)
    # The microphone opens before the connection: speech during the connect is queued, not lost.
    async with Microphone(None if device is None else device.index) as microphone:
        name = "the default input device" if device is None else repr(device.name)
        print(f"Listening on {name}; press Ctrl-C to stop.", file=err, flush=True)
        said_stop = asyncio.create_task(stop.wait())
        said_stop.add_done_callback(lambda _: microphone.stop())
        try:
            with first_interrupt_calls(microphone.stop):
                async with _connect(options, err) as stream:
                    await run_stream(
                        stream,
                        microphone.frames(),
                        on_message,
                        drain_timeout=options.drain_timeout,
                    )
        finally:
            said_stop.cancel()
