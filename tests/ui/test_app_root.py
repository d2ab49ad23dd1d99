"""The composition root in this process: DictateApp built from the parts it is given
(secrets, environment, clock) against a real /v1/stream server on loopback."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from PySide6.QtWidgets import QApplication, QLabel
from websockets.asyncio.server import ServerConnection, serve
from websockets.http11 import Request, Response

from app.audio.microphone import rescan_devices
from app.core.commands import RemoteCommand
from app.core.credentials import secret_lookup
from app.core.session import Phase
from app.core.session_table import State
from app.core.settings import (
    BackendKind,
    BackendSettings,
    DictationSettings,
    OverlaySettings,
    Settings,
)
from app.ui.dictate_app import DictateApp
from server.protocol.stream import (
    PROTOCOL_HEADER,
    PROTOCOL_VERSION,
    End,
    EndOfAudio,
    Ready,
    Token,
    decode_client,
    encode_server,
)
from tests.support.desktop import until
from tests.support.pulse import virtual_microphone

WORD_START = 0.25  # seconds into the stream, as the server says


class OneWord:
    """A /v1/stream server (PROTOCOL.md section 1): ``ready``, one word when told, ``end``
    after the client's ``end``."""

    def __init__(self) -> None:
        self.say = asyncio.Event()

    async def __call__(self, ws: ServerConnection) -> None:
        await ws.send(encode_server(Ready()))
        await self.say.wait()
        await ws.send(encode_server(Token(" hello", WORD_START)))
        async for data in ws:
            if isinstance(decode_client(data), EndOfAudio):
                await ws.send(encode_server(End()))
                return


@pytest.fixture
def microphone(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """This process captures from a virtual microphone (PortAudio through ALSA's pulse plugin
    finds the sound server in XDG_RUNTIME_DIR)."""
    with virtual_microphone(tmp_path / "runtime") as mic:
        monkeypatch.setenv("XDG_RUNTIME_DIR", mic.env["XDG_RUNTIME_DIR"])
        rescan_devices()
        yield
    rescan_devices()


def announce(connection: ServerConnection, request: Request, response: Response) -> None:
    """Name this project's protocol in the 101 response, as its proxy does."""
    if response.status_code == 101:
        response.headers[PROTOCOL_HEADER] = PROTOCOL_VERSION


@pytest.fixture
def backend() -> OneWord:
    return OneWord()


@pytest.fixture
async def url(backend: OneWord) -> AsyncIterator[str]:
    async with serve(backend, "127.0.0.1", 0, process_response=announce) as server:
        port = server.sockets[0].getsockname()[1]
        yield f"ws://127.0.0.1:{port}/v1/stream"


async def test_the_latency_shown_is_measured_with_the_apps_clock(
    qapp: QApplication, microphone: None, backend: OneWord, url: str, tmp_path: Path
) -> None:
    now = [1000.0]
    saved: list[Settings] = []
    settings = Settings(
        BackendSettings(BackendKind.PROXY, url=url),
        DictationSettings(focus_guard=False),
        OverlaySettings(latency=True),
    )
    app = DictateApp(
        settings,
        saved.append,
        tmp_path / "app.log",
        secret_lookup({}, {}.get),
        {},
        lambda: now[0],
    )
    try:
        app.tray.captions_only.emit(True)  # words to the captions only: nothing is typed
        app.control(RemoteCommand.START)  # at the clock's 1000
        await until(lambda: app.dictation.phase is Phase.STREAMING)
        now[0] = 1002.0  # when the word comes
        backend.say.set()
        await until(lambda: "hello" in app.overlay.words)
        app.control(RemoteCommand.STOP)
        await until(lambda: app.dictation.phase is Phase.IDLE)
        assert app.overlay.words.strip() == "hello"
        labels = [label.text() for label in app.overlay.findChildren(QLabel)]
        # The word started 0.25 s into the audio, which started at the clock's 1000.
        assert f"{(2.0 - WORD_START) * 1000:.0f} ms behind" in labels
    finally:
        await app.close()


async def test_a_press_right_after_a_release_continues_the_dictation(
    qapp: QApplication, microphone: None, backend: OneWord, url: str, tmp_path: Path
) -> None:
    """Released and pressed again in one turn of the loop (a stalled loop, or two commands
    at once): the release has not reached the session yet, so the dictation goes on, with
    the microphone open; it is not ended behind the new press's back."""
    settings = Settings(BackendSettings(BackendKind.PROXY, url=url), DictationSettings())
    app = DictateApp(
        settings, lambda s: None, tmp_path / "app.log", secret_lookup({}, {}.get), {}, float
    )
    try:
        app.tray.captions_only.emit(True)
        app.control(RemoteCommand.START)
        await until(lambda: app.dictation.phase is Phase.STREAMING)
        app.control(RemoteCommand.STOP)
        app.control(RemoteCommand.START)  # the same turn of the loop
        await asyncio.sleep(0)  # the turn in which a queued stop would reach the session
        await asyncio.sleep(0)
        assert app.capture.running
        assert app.dictation.session.state is State.STREAMING  # not draining
        backend.say.set()
        await until(lambda: "hello" in app.overlay.words)
        app.control(RemoteCommand.STOP)
        await until(lambda: app.dictation.phase is Phase.IDLE)
        assert not app.capture.running
    finally:
        await app.close()
