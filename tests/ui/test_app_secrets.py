"""Dictating on a desktop without a secure keyring: the app under Xvfb with keyrings.alt's
plain-text keyring and with the null keyring (keyring's own fallbacks there), secrets from the
environment, and backends on loopback that demand (or do not demand) credentials."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from app.core.settings import BackendKind, BackendSettings, Settings
from app.desktop import settings_store
from tests.support.desktop import (
    Desktop,
    desktop,
    read_text,
    running_app,
    target_window,
    text_in,
    until,
)
from tests.support.scripted_stream import scripted_stream

WORDS = [" Nothing", " blocks", " this", " dictation."]
TEXT = "Nothing blocks this dictation."
UNSAFE_KEYRINGS = ["keyrings.alt.file.PlaintextKeyring", "keyring.backends.null.Keyring"]


@pytest.fixture(params=UNSAFE_KEYRINGS, ids=["plaintext", "null"])
def session(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Desktop]:
    with desktop(tmp_path / "home", 73) as d:
        d.env["PYTHON_KEYRING_BACKEND"] = request.param
        yield d


async def dictate(
    d: Desktop, typed: Path, env: dict[str, str], headers: dict[str, str], kind: BackendKind
) -> str:
    """Hold the hotkey until the first word is typed; the text that reached the window."""
    async with scripted_stream(WORDS, frames_per_word=2, required_headers=headers) as script:
        settings_store.save(Settings(BackendSettings(kind, url=script.url)), d.config)
        d.env.update(env)
        async with target_window(d.env, typed), running_app(d) as app:
            d.xdotool("keydown", "F9")
            await until(lambda: read_text(typed) != "", message=app.output)
            d.xdotool("keyup", "F9")  # the rest come with the flush
            text = await text_in(typed, TEXT)
            assert script.refused == 0, app.output
            assert "keyring" not in app.output.lower(), app.output
            return text


async def test_a_backend_without_auth_needs_no_keyring(session: Desktop, tmp_path: Path) -> None:
    typed = tmp_path / "typed.txt"
    assert await dictate(session, typed, {}, {}, BackendKind.PROXY) == TEXT


async def test_the_proxy_token_comes_from_the_environment(session: Desktop, tmp_path: Path) -> None:
    typed = tmp_path / "typed.txt"
    env = {"KYUTAI_DICTATE_TOKEN": "t0ken-from-env"}
    headers = {"Authorization": "Bearer t0ken-from-env"}
    assert await dictate(session, typed, env, headers, BackendKind.PROXY) == TEXT


async def test_modal_proxy_auth_comes_from_the_environment(
    session: Desktop, tmp_path: Path
) -> None:
    """A Modal app given by its full URL (here on loopback), its proxy auth headers checked as
    Modal's edge checks them, the key and secret from the environment."""
    typed = tmp_path / "typed.txt"
    env = {"MODAL_KEY": "wk-from-env", "MODAL_SECRET": "ws-from-env"}
    headers = {"Modal-Key": "wk-from-env", "Modal-Secret": "ws-from-env"}
    assert await dictate(session, typed, env, headers, BackendKind.MODAL) == TEXT


async def test_a_missing_token_is_reported_with_where_to_put_it(
    session: Desktop, tmp_path: Path
) -> None:
    typed = tmp_path / "typed.txt"
    headers = {"Authorization": "Bearer needed"}
    async with scripted_stream(WORDS, required_headers=headers) as script:
        session.use_backend(script.url)
        async with target_window(session.env, typed), running_app(session) as app:
            session.xdotool("keydown", "F9")
            line = await app.wait_for_line("the server needs a token, and none is set")
            session.xdotool("keyup", "F9")
    assert "the keyring could not be read (no secure keyring is available" in line
    assert "set KYUTAI_DICTATE_TOKEN in the app's environment" in line
    assert script.refused == 1  # fatal: not retried
