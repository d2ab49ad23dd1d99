"""``kyutai-dictate --local``: start ``kyutai-dictate engine`` as a child process on a free
loopback port with a fresh API key, and give the app its URL (direct moshi-server mode)."""

from __future__ import annotations

import logging
import os
import secrets
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from app.core.credentials import Secret
from app.core.errors import UsageError

ENGINE_KEY_ENV = "KYUTAI_DICTATE_ENGINE_API_KEY"  # server.engine.run.API_KEY_ENV
READY_PREFIX = "engine listening on "
START_TIMEOUT = 900.0  # a first run downloads the weights


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@contextmanager
def local_engine(model: str, checkpoint: Path | None) -> Iterator[str]:
    """The engine's WebSocket URL while it runs; its API key is put in this process's
    environment, where the app's credentials look for a moshi-server key."""
    key = secrets.token_urlsafe(16)
    command = [sys.executable, "-m", "app", "engine", "--model", model, "--port", str(_free_port())]
    if logging.getLogger().isEnabledFor(logging.DEBUG):
        command += ["--log-level", "debug"]
    if checkpoint is not None:
        command += ["--checkpoint", str(checkpoint)]
    env = {**os.environ, ENGINE_KEY_ENV: key}
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, text=True)
    try:
        url = _wait_ready(process)
        os.environ[Secret.MOSHI_API_KEY.env_name] = key
        yield url
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_ready(process: subprocess.Popen[str]) -> str:
    assert process.stdout is not None
    found: list[str] = []

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            if line.startswith(READY_PREFIX):
                found.append(line.removeprefix(READY_PREFIX).strip())
                return

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(START_TIMEOUT)
    if not found:
        process.kill()
        code = process.wait()
        raise UsageError(f"the local engine did not start (exit status {code}; see above)")
    return found[0]
