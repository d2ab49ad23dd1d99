"""Nothing secret lands where it must not (ISSUE 14, section 2; docs/SECURITY.md): the proxy
and the app's CLI run as processes at debug level in a private home, with test tokens and a
backend key, through good, wrong and hostile requests; then everything they wrote (their
output and every file under that home) is searched for the tokens, the key, and (in what the
proxy wrote) the words spoken."""

from __future__ import annotations

import asyncio
import os
import re
import secrets
import signal
from pathlib import Path

import numpy as np
from websockets.frames import Opcode

from tests.conftest import DoubleFactory
from tests.integration.test_cli_client import cli
from tests.integration.test_proxy_server import free_port, serve_process, wait_listening
from tests.support.raw_client import huge_frame_header, open_raw
from tests.support.speech import SENTENCES, write_wav

SPOKEN = {
    word.strip(".,;:!?").lower()
    for sentence in SENTENCES[:2]
    for word in sentence.split()
    if len(word.strip(".,;:!?")) > 3
}


def private_home(home: Path) -> dict[str, str]:
    """A home directory and XDG directories of their own, created; their variables."""
    env = {
        "HOME": str(home),
        **{f"XDG_{d}_HOME": str(home / d.lower()) for d in ("CONFIG", "DATA", "STATE", "CACHE")},
        "XDG_RUNTIME_DIR": str(home / "run"),
    }
    for directory in env.values():
        Path(directory).mkdir(parents=True, exist_ok=True)
    return env


async def test_no_token_key_or_transcript_is_written_where_it_must_not_be(
    moshi_double: DoubleFactory, two_sentences: np.ndarray, tmp_path: Path
) -> None:
    token, wrong, key = (f"test-{kind}-{secrets.token_hex(8)}" for kind in ("tok", "bad", "key"))
    home = tmp_path / "home"
    env = {**private_home(home), "KYUTAI_DICTATE_BACKEND_KEY": key}
    token_file = tmp_path / "tokens"
    token_file.write_text(f"{token}\n")
    wav = write_wav(tmp_path / "speech.wav", two_sentences)
    outputs: list[str] = []

    async with moshi_double(api_keys=frozenset({key})) as double:
        port = free_port()
        process = serve_process(
            "--log-level", "debug", "--port", str(port), "--backend", double.url,
            "--token-file", str(token_file),
            env=env,
        )  # fmt: skip
        try:
            await wait_listening(port, process)
            url = f"ws://127.0.0.1:{port}/v1/stream"
            client_env = {**os.environ, **env}
            good = await cli(
                "--log-level", "debug", "transcribe", "--url", url, "--token", token,
                "--file", str(wav), "--rtf", "0",
                env=client_env,
            )  # fmt: skip
            assert good.returncode == 0, good.stderr
            assert SENTENCES[0] in good.stdout  # the words reach the user...
            outputs.append(good.stderr)  # ...and the client's log has no secret
            refused = await cli(
                "--log-level", "debug", "transcribe", "--url", url, "--file", str(wav),
                env={**client_env, "KYUTAI_DICTATE_TOKEN": wrong},
            )  # fmt: skip
            assert refused.returncode != 0
            outputs.append(refused.stdout + refused.stderr)
            for headers in (
                (("Authorization", f"Bearer {token}"), ("Authorization", f"Bearer {wrong}")),
                (("Authorization", f"Basic {wrong}"),),
            ):
                (await open_raw(port, headers=headers)).close()
            hostile = await open_raw(port, headers=(("Authorization", f"Bearer {token}"),))
            await hostile.send_frame(Opcode.BINARY, b"\x00" * 7)
            await hostile.send(huge_frame_header(1 << 30))
            await hostile.read_until_closed()
            hostile.close()
        finally:
            process.send_signal(signal.SIGTERM)
            out, err = await asyncio.to_thread(process.communicate, timeout=30)
    proxy_output = out + err
    assert "stream closed" in proxy_output  # the proxy did log at debug level

    written = [p for p in home.rglob("*") if p.is_file()]
    texts = [*outputs, proxy_output, *(p.read_text("utf-8", "replace") for p in written)]
    for secret in (token, wrong, key):
        assert not [text for text in texts if secret in text], f"{secret[:9]}... was written"
    # Whole words: a library's own log has "quickack=1" in it, which is no transcript.
    logged = {word.lower() for word in re.findall(r"[\w']+", proxy_output)}
    assert not SPOKEN & logged, "the proxy logged transcript words"
