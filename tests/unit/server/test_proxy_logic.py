"""Pure pieces of the proxy: VAD rule, bearer auth, configuration."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from server.models import STT_2_6B, model_profile
from server.protocol.vad import WARMUP_STEPS, VadTracker
from server.proxy import config as proxy_config
from server.proxy.auth import bearer_token, is_authorized

PAUSE = (0.9, 0.9, 0.9, 0.9)
TALK = (0.1, 0.1, 0.1, 0.1)


def test_vad_end_needs_a_word_and_fires_once_per_utterance() -> None:
    vad = VadTracker()
    for _ in range(WARMUP_STEPS):
        vad.on_word()
        assert not vad.on_step(PAUSE)  # the first steps are ignored
    assert vad.on_step(PAUSE)
    assert not vad.on_step(PAUSE)  # no new word since
    vad.on_word()
    assert not vad.on_step(TALK)
    assert vad.on_step(PAUSE)


def test_vad_uses_the_two_second_head() -> None:
    vad = VadTracker(steps=WARMUP_STEPS, word_since_vad_end=True)
    assert not vad.on_step((0.9, 0.9, 0.4, 0.9))
    assert vad.on_step((0.1, 0.1, 0.6, 0.1))


@pytest.mark.parametrize(
    ("header", "token"),
    [
        ("Bearer abc", "abc"),
        ("bearer  abc ", "abc"),
        ("Basic abc", None),
        ("Bearer", None),
        (None, None),
        ("", None),
    ],
)
def test_bearer_token(header: str | None, token: str | None) -> None:
    assert bearer_token(header) == token


def test_is_authorized() -> None:
    assert is_authorized(None, [])
    assert is_authorized("Bearer b", ["a", "b"])
    assert not is_authorized("Bearer c", ["a", "b"])
    assert not is_authorized(None, ["a"])


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    proxy_config.add_arguments(parser)
    return parser.parse_args(argv)


def test_flags_override_environment_override_defaults(tmp_path: Path) -> None:
    tokens = tmp_path / "tokens"
    tokens.write_text("# comment\nfile-token\n\n")
    env = {
        "KYUTAI_DICTATE_PORT": "9000",
        "KYUTAI_DICTATE_IDLE_TIMEOUT": "3.5",
        "KYUTAI_DICTATE_MODEL": "kyutai/stt-2.6b-en",
        "KYUTAI_DICTATE_TOKENS": "a, b,",
        "KYUTAI_DICTATE_TOKEN_FILE": str(tokens),
    }
    config = proxy_config.from_arguments(parse("--port", "9100", "--host", "0.0.0.0"), env)
    assert config.port == 9100
    assert config.host == "0.0.0.0"
    assert config.idle_timeout == 3.5
    assert config.model == STT_2_6B
    assert config.tokens == {"a", "b", "file-token"}
    assert "file-token" not in repr(config)
    defaults = proxy_config.from_arguments(parse(), {})
    assert (defaults.host, defaults.port, defaults.model.name) == (
        "127.0.0.1",
        8000,
        "stt-1b-en_fr",
    )
    assert defaults.backend_url == "ws://127.0.0.1:8998/api/asr-streaming"


def test_open_listener_needs_tokens_or_no_auth() -> None:
    with pytest.raises(ValueError, match="without authentication"):
        proxy_config.from_arguments(parse("--host", "0.0.0.0"), {})
    assert proxy_config.from_arguments(parse("--host", "::1"), {}).host == "::1"
    assert proxy_config.from_arguments(parse("--host", "0.0.0.0", "--no-auth"), {}).no_auth
    env = {"KYUTAI_DICTATE_NO_AUTH": "1"}
    assert proxy_config.from_arguments(parse("--host", "0.0.0.0"), env).no_auth


def test_empty_token_file_is_refused(tmp_path: Path) -> None:
    empty = tmp_path / "tokens"
    empty.write_text("\n# nothing\n")
    with pytest.raises(ValueError, match="holds no token"):
        proxy_config.from_arguments(parse("--token-file", str(empty)), {})


def test_model_profiles() -> None:
    one_b = model_profile("kyutai/stt-1b-en_fr")
    assert (one_b.delay_frames, one_b.has_vad, one_b.flush_frames) == (6, True, 8)
    assert (STT_2_6B.delay_frames, STT_2_6B.has_vad, STT_2_6B.silence_prefix_seconds) == (
        32,
        False,
        1.0,
    )
    with pytest.raises(ValueError, match="unknown model"):
        model_profile("whisper")


def test_a_model_step_is_one_wire_frame() -> None:
    from server.models import STEP_SECONDS
    from server.protocol.audio import FRAME_SECONDS

    assert STEP_SECONDS == FRAME_SECONDS
    assert STT_2_6B.delay_seconds == 32 * FRAME_SECONDS
