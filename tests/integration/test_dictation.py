"""A whole dictation driven through the real proxy and the moshi-server double on loopback:
audio in, typed text out, with slow, failing and refusing backends."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest

from app.backend.connect import open_v1_stream, stream_connector
from app.backend.stream import Stream
from app.core.credentials import Secret, secret_lookup
from app.core.endpoint import Endpoint, endpoint_for
from app.core.session import DictationSession, Phase
from app.core.settings import BackendKind, BackendSettings
from app.desktop.dictation import Dictation
from server.protocol.audio import FRAME_SAMPLES, FRAME_SECONDS
from tests.conftest import DoubleFactory, ProxyFactory, words_of
from tests.support.original_proxy import original_proxy
from tests.support.speech import SENTENCES, speech


@dataclass
class Recorder:
    """What the dictation typed and told the user."""

    typed: list[str] = field(default_factory=list)
    phases: list[Phase] = field(default_factory=list)
    notices: list[tuple[str, bool]] = field(default_factory=list)
    idle: asyncio.Event = field(default_factory=asyncio.Event)

    def phase(self, phase: Phase) -> None:
        self.phases.append(phase)
        if phase is Phase.IDLE:
            self.idle.set()

    def notice(self, message: str, error: bool) -> None:
        self.notices.append((message, error))

    @property
    def text(self) -> str:
        return "".join(self.typed)


def dictation_to(
    url: str, recorder: Recorder, token: str | None = None, **session: float
) -> Dictation:
    headers = (("Authorization", f"Bearer {token}"),) if token else ()

    @asynccontextmanager
    async def open_stream() -> AsyncIterator[Stream]:
        async with open_v1_stream(Endpoint(url, headers), open_timeout=5) as stream:
            yield stream

    return Dictation(
        open_stream,
        recorder.typed.append,
        on_phase=recorder.phase,
        on_notice=recorder.notice,
        session=DictationSession(**session),
    )


async def speak(dictation: Dictation, audio: np.ndarray, speed: float = 4.0) -> None:
    """Feed ``audio`` as a microphone would, ``speed`` times faster than real time."""
    for start in range(0, len(audio), FRAME_SAMPLES):
        dictation.audio(np.asarray(audio[start : start + FRAME_SAMPLES], "<f4").tobytes())
        await asyncio.sleep(FRAME_SECONDS / speed)


async def dictate(dictation: Dictation, recorder: Recorder, audio: np.ndarray) -> None:
    recorder.idle.clear()
    dictation.start()
    await speak(dictation, audio)
    dictation.stop()
    await asyncio.wait_for(recorder.idle.wait(), 30)


async def test_every_word_is_typed_with_a_backend_slow_to_start(
    moshi_double: DoubleFactory, proxy: ProxyFactory, two_sentences: np.ndarray
) -> None:
    """Audio spoken while the backend warms up is kept; release drains the last word."""
    recorder = Recorder()
    async with moshi_double(warmup_seconds=2.0) as double, proxy(double.url) as server:
        dictation = dictation_to(server.url, recorder)
        await dictate(dictation, recorder, two_sentences)
    assert recorder.text == " ".join(SENTENCES[:2])
    assert recorder.phases == [Phase.CONNECTING, Phase.STREAMING, Phase.DRAINING, Phase.IDLE]
    assert recorder.notices == []


async def test_release_before_the_backend_is_ready_still_types_everything(
    moshi_double: DoubleFactory, proxy: ProxyFactory, two_sentences: np.ndarray
) -> None:
    recorder = Recorder()
    async with moshi_double(warmup_seconds=3.0) as double, proxy(double.url) as server:
        dictation = dictation_to(server.url, recorder)
        recorder.idle.clear()
        dictation.start()
        await speak(dictation, two_sentences, speed=50)  # all said within ~0.2 s
        dictation.stop()
        assert dictation.phase is Phase.CONNECTING
        await asyncio.wait_for(recorder.idle.wait(), 30)
    assert words_of([recorder.text]) == words_of(SENTENCES[:2])


async def test_backend_killed_mid_dictation_shows_an_error_and_the_next_one_works(
    moshi_double: DoubleFactory, proxy: ProxyFactory, two_sentences: np.ndarray
) -> None:
    recorder = Recorder()
    async with moshi_double() as double, proxy(double.url) as server:
        dictation = dictation_to(server.url, recorder)
        recorder.idle.clear()
        dictation.start()
        half = len(two_sentences) // 2
        await speak(dictation, two_sentences[:half])
        await double.close()  # the GPU server dies mid-sentence
        await asyncio.wait_for(recorder.idle.wait(), 30)
        errors = [message for message, error in recorder.notices if error]
        assert errors, recorder.notices
        assert "the end of this dictation may be missing" in errors[0]

    recorder2 = Recorder()
    async with moshi_double() as double, proxy(double.url) as server:
        dictation2 = dictation_to(server.url, recorder2)
        await dictate(dictation2, recorder2, two_sentences)
    assert recorder2.text == " ".join(SENTENCES[:2])


async def test_a_refused_token_is_shown_and_not_retried(
    moshi_double: DoubleFactory, proxy: ProxyFactory, two_sentences: np.ndarray
) -> None:
    recorder = Recorder()
    async with moshi_double() as double, proxy(double.url, tokens=frozenset({"right"})) as server:
        dictation = dictation_to(server.url, recorder, token="wrong")
        dictation.start()
        await asyncio.wait_for(recorder.idle.wait(), 10)
    assert recorder.notices == [
        (
            "the backend refused the credentials: check the key in Settings "
            "(this dictation was not transcribed)",
            True,
        )
    ]
    assert recorder.typed == []


async def test_an_unreachable_backend_is_retried_then_given_up(unused_tcp_port: int) -> None:
    recorder = Recorder()
    dictation = dictation_to(
        f"ws://127.0.0.1:{unused_tcp_port}/v1/stream", recorder, max_connect_seconds=2.0
    )
    dictation.start()
    await asyncio.wait_for(recorder.idle.wait(), 15)
    retries = [message for message, error in recorder.notices if not error]
    assert retries
    assert all(message.endswith("; retrying") for message in retries)
    assert "connection refused" in recorder.notices[-1][0]
    assert "gave up after 2 s" in recorder.notices[-1][0]
    assert recorder.notices[-1][1] is True


@pytest.fixture
def unused_tcp_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


async def test_the_original_service_gets_every_word_spaced_and_ends_cleanly(
    moshi_double: DoubleFactory, speech_dir: Path
) -> None:
    """The original proxy (no ready, no end, words without a space, no flush): the audio goes
    out at once, the last words are pushed out by silence, and no `end` is sent."""
    audio = speech(SENTENCES[:2], speech_dir, gap_seconds=0.3)  # the last word ends near the end
    recorder = Recorder()
    async with moshi_double() as double, original_proxy(double.url) as service:
        dictation = dictation_to(service.url, recorder)
        dictation.start()
        await speak(dictation, audio)
        dictation.stop()
        await asyncio.wait_for(recorder.idle.wait(), 20)
        assert service.text_messages == 0  # `end` would have closed it at once
    assert recorder.text == " ".join(SENTENCES[:2])
    assert recorder.phases == [Phase.CONNECTING, Phase.STREAMING, Phase.DRAINING, Phase.IDLE]
    assert recorder.notices == []


async def test_a_modal_app_given_by_its_full_url_is_dictated_to_with_proxy_auth(
    moshi_double: DoubleFactory, two_sentences: np.ndarray
) -> None:
    """Settings as the user saves them for the original service's Modal app: its full URL
    (its label is not kyutai-dictate) and a proxy auth token, which Modal's edge checks."""
    secrets = {Secret.MODAL_KEY: "wk-1", Secret.MODAL_SECRET: "ws-2"}
    recorder = Recorder()
    async with (
        moshi_double() as double,
        original_proxy(double.url, modal_auth=("wk-1", "ws-2")) as service,
    ):
        backend = BackendSettings(BackendKind.MODAL, url=service.url)
        endpoint = endpoint_for(backend, secret_lookup({}, secrets.get))
        open_stream = stream_connector(backend)
        dictation = Dictation(
            lambda: open_stream(endpoint, 5),
            recorder.typed.append,
            on_phase=recorder.phase,
            on_notice=recorder.notice,
        )
        await dictate(dictation, recorder, two_sentences)
    assert recorder.text == " ".join(SENTENCES[:2])
    assert recorder.notices == []
