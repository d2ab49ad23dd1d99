"""The desktop app for real: under Xvfb with a tray host, speech from a PulseAudio virtual
microphone, the proxy and the moshi-server double on loopback, and a real target window.
Push-to-talk is pressed with xdotool (XTEST), as a keyboard would."""

from __future__ import annotations

import asyncio
import socket
import subprocess
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from app.core.history import Outcome
from app.core.settings import BackendKind, BackendSettings, Settings
from app.desktop import settings_store
from app.desktop.history_store import FILE_NAME, HistoryStore
from tests.conftest import DoubleFactory, ProxyFactory
from tests.support.desktop import (
    Desktop,
    app_command,
    desktop,
    hotkey_held,
    read_text,
    running_app,
    scripted_dictation,
    target_window,
    text_in,
    until,
)
from tests.support.original_proxy import original_proxy
from tests.support.scripted_stream import scripted_stream
from tests.support.speech import SENTENCES, speech, write_wav


@pytest.fixture
def session(tmp_path: Path) -> AsyncIterator[Desktop]:
    with desktop(tmp_path / "home", 71) as d:
        yield d  # type: ignore[misc]


def keymap(d: Desktop) -> str:
    return subprocess.run(
        ["xmodmap", "-pke"], env=d.env, capture_output=True, text=True, check=True
    ).stdout


@asynccontextmanager
async def proxy_port() -> AsyncIterator[int]:
    """A free port, for a proxy that starts later."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    yield port


async def control(d: Desktop, command: str) -> str:
    done = await asyncio.to_thread(
        subprocess.run, app_command(command), env=d.env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


async def test_push_to_talk_types_every_word_into_the_focused_window(
    session: Desktop,
    moshi_double: DoubleFactory,
    proxy: ProxyFactory,
    speech_dir: Path,
    tmp_path: Path,
) -> None:
    wav = tmp_path / "speech.wav"
    write_wav(wav, speech(SENTENCES[:1], speech_dir, gap_seconds=0.3))
    typed = tmp_path / "typed.txt"
    async with (
        moshi_double(step_seconds=0.08, warmup_seconds=1.5) as double,
        proxy(double.url) as server,
    ):
        session.use_backend(server.url)
        async with (
            target_window(session.env, typed),
            running_app(session) as app,
        ):
            async with hotkey_held(session, app):  # a person starts talking later, too
                await asyncio.to_thread(session.mic.play, wav)
            text = await text_in(typed, SENTENCES[0])
            assert text == SENTENCES[0], app.output


UNICODE_WORDS = [" Größe:", " “quoted”", " café…", " 日本語", " €5", " Ελληνικά", " naïve."]


async def test_any_unicode_text_arrives_exactly(session: Desktop, tmp_path: Path) -> None:
    typed = tmp_path / "typed.txt"
    expected = "".join(UNICODE_WORDS).lstrip()
    keymap_before = keymap(session)
    async with scripted_dictation(session, UNICODE_WORDS, typed, frames_per_word=2) as (
        script,
        app,
    ):
        session.xdotool("keydown", "F9")
        await app.wait_for_line("capturing from")
        # The microphone's silence paces the words: hold the key until all were said.
        await until(lambda: len(script.sent_at) == len(UNICODE_WORDS), message=app.output)
        session.xdotool("keyup", "F9")
        assert await text_in(typed, expected) == expected, app.output
    assert keymap(session) == keymap_before  # the app has restored it


async def test_focus_guard_holds_words_when_focus_moves_and_types_them_on_request(
    session: Desktop, tmp_path: Path
) -> None:
    words = [f" word{i}" for i in range(12)]
    full = "".join(words).lstrip()
    first, second = tmp_path / "first.txt", tmp_path / "second.txt"
    async with scripted_stream(words, frames_per_word=3) as script:
        session.use_backend(script.url)
        async with (
            target_window(session.env, second, "second window"),  # opened first: not focused
            target_window(session.env, first, "first window"),
            running_app(session) as app,
        ):
            session.xdotool("keydown", "F9")
            await until(lambda: first.exists() and len(first.read_text().split()) >= 2)
            second_id = session.xdotool("search", "--name", "second window").split()[0]
            session.xdotool("windowfocus", "--sync", second_id)
            await app.wait_for_line("focus moved to another window")
            session.xdotool("keyup", "F9")
            await app.wait_for_line("dictation: idle")
            before = first.read_text()
            assert full.startswith(before)
            assert len(before) < len(full)
            assert not second.exists() or second.read_text() == ""
            history = HistoryStore(
                Path(session.env["XDG_DATA_HOME"]) / "kyutai-dictate" / FILE_NAME
            )
            await until(lambda: [e.outcome for e in history.entries()] == [Outcome.HELD])
            history.close()

            first_id = session.xdotool("search", "--name", "first window").split()[0]
            session.xdotool("windowfocus", "--sync", first_id)
            await control(session, "type-held")
            assert await text_in(first, full) == full


async def test_first_and_last_words_survive_a_backend_that_takes_seconds_to_start(
    session: Desktop,
    moshi_double: DoubleFactory,
    proxy: ProxyFactory,
    speech_dir: Path,
    tmp_path: Path,
) -> None:
    """The double starts warming up only at key-down: speech is over before it is ready."""
    wav = tmp_path / "speech.wav"
    write_wav(wav, speech(SENTENCES[2:3], speech_dir, gap_seconds=0.0))
    typed = tmp_path / "typed.txt"
    async with target_window(session.env, typed), proxy_port() as port:
        session.use_backend(f"ws://127.0.0.1:{port}/v1/stream")
        async with running_app(session) as app:
            session.xdotool("keydown", "F9")
            await app.wait_for_line("capturing from")
            async with (
                moshi_double(step_seconds=0.08, warmup_seconds=4.0) as double,
                proxy(double.url, port=port),
            ):
                await asyncio.to_thread(session.mic.play, wav)
                session.xdotool("keyup", "F9")
                assert await text_in(typed, SENTENCES[2]) == SENTENCES[2], app.output
            assert any("retrying" in line for line in app.lines)  # nothing listened at first


async def test_backend_killed_mid_dictation_is_shown_and_the_next_dictation_works(
    session: Desktop, tmp_path: Path
) -> None:
    typed = tmp_path / "typed.txt"
    words = [f" w{i}" for i in range(200)]
    async with scripted_dictation(session, words, typed) as (script, app):
        session.xdotool("keydown", "F9")
        await until(lambda: typed.exists() and len(typed.read_text().split()) >= 2)
        script.crash_sessions()
        line = await app.wait_for_line("the end of this dictation may be missing")
        assert "WARNING" in line
        mark = app.mark()
        session.xdotool("keyup", "F9")
        await app.wait_for_line("dictation: idle")
        # The release is settled (not taken for autorepeat's release+press): a new press.
        await app.wait_for_line("hotkey stop", after=mark)
        first = typed.read_text()

        mark = app.mark()
        session.xdotool("keydown", "F9")
        await until(lambda: len(typed.read_text()) > len(first), message=app.output)
        session.xdotool("keyup", "F9")
        await app.wait_for_line("dictation: idle", after=mark)
        await until(lambda: len(typed.read_text()) >= len(first) + 5, message=app.output)
        assert typed.read_text().startswith(f"{first}w0 w1")


async def test_a_microphone_that_vanishes_stops_dictation_visibly_and_capture_recovers(
    session: Desktop, tmp_path: Path
) -> None:
    typed = tmp_path / "typed.txt"
    words = [f" w{i}" for i in range(40)]
    async with scripted_dictation(session, words, typed) as (_, app):
        session.xdotool("keydown", "F9")
        await until(lambda: len(read_text(typed).split()) >= 2)
        session.mic.kill()  # the sound server (and with it the microphone) is gone
        line = await app.wait_for_line("dictation stopped")
        assert "WARNING" in line
        await app.wait_for_line("dictation: idle")
        mark = app.mark()
        session.xdotool("keyup", "F9")
        # What was said before it vanished is still typed, in full (the flush ran).
        first = await text_in(typed, "".join(words).lstrip())
        assert first == "".join(words).lstrip()

        await app.wait_for_line("hotkey stop", after=mark)  # released: the next is a press
        session.xdotool("keydown", "F9")  # no microphone: the press fails visibly
        await app.wait_for_line("cannot open the microphone")
        mark = app.mark()
        session.xdotool("keyup", "F9")

        session.mic.start()  # plugged back in
        await app.wait_for_line("hotkey stop", after=mark)
        session.xdotool("keydown", "F9")
        await until(lambda: read_text(typed) != first, message=app.output)
        session.xdotool("keyup", "F9")
        both = first + "".join(words).lstrip()  # a new dictation: no leading space
        assert await text_in(typed, both) == both


async def test_direct_moshi_server_mode_types_every_word(
    session: Desktop, moshi_double: DoubleFactory, speech_dir: Path, tmp_path: Path
) -> None:
    """No proxy: the app speaks moshi-server's protocol itself, with its API key."""
    wav = tmp_path / "speech.wav"
    write_wav(wav, speech(SENTENCES[1:2], speech_dir, gap_seconds=0.3))
    typed = tmp_path / "typed.txt"
    async with moshi_double(step_seconds=0.08) as double:
        backend = BackendSettings(BackendKind.MOSHI, url=double.url)
        settings_store.save(Settings(backend), session.config)
        session.store_secret("moshi-api-key", "public_token")  # the double's key
        async with (
            target_window(session.env, typed),
            running_app(session) as app,
        ):
            async with hotkey_held(session, app):
                await asyncio.to_thread(session.mic.play, wav)
            assert await text_in(typed, SENTENCES[1]) == SENTENCES[1], app.output


async def test_the_original_service_types_every_word_spaced(
    session: Desktop, moshi_double: DoubleFactory, speech_dir: Path, tmp_path: Path
) -> None:
    """The original service's proxy (no ready, no end, words without a space), found as such
    because its upgrade does not name this project's protocol."""
    wav = tmp_path / "speech.wav"
    write_wav(wav, speech(SENTENCES[:2], speech_dir, gap_seconds=0.3))
    typed = tmp_path / "typed.txt"
    async with (
        moshi_double(step_seconds=0.08) as double,
        original_proxy(double.url) as service,
    ):
        backend = BackendSettings(BackendKind.PROXY, url=service.url)
        settings_store.save(Settings(backend), session.config)
        async with (
            target_window(session.env, typed),
            running_app(session) as app,
        ):
            async with hotkey_held(session, app):
                await asyncio.to_thread(session.mic.play, wav)
            expected = " ".join(SENTENCES[:2])
            assert await text_in(typed, expected) == expected, app.output
            assert "speaks the original service's protocol" in app.output
        assert service.text_messages == 0
