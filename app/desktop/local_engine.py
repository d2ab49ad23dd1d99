"""The local engine as the app's child process: ``kyutai-dictate engine`` on a free loopback
port with a fresh API key, for ``--local`` and the "This computer" backend."""

from __future__ import annotations

import json
import logging
import os
import secrets
import socket
import subprocess
import sys
import threading
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from app.core.credentials import Secret
from app.core.errors import UsageError

log = logging.getLogger(__name__)

ENGINE_KEY_ENV = "KYUTAI_DICTATE_ENGINE_API_KEY"  # server.engine.run.API_KEY_ENV
READY_PREFIX = "engine listening on "
START_TIMEOUT = 900.0  # a first run downloads the weights


@dataclass(frozen=True)
class LocalEngine:
    """The running engine: its URL, where it runs and how fast (step time / audio time)."""

    url: str
    device: str
    real_time_factor: float

    def describe(self) -> str:
        where = "a GPU" if self.device.startswith("cuda") else "the CPU (no GPU found)"
        text = f"local engine on {where}: real-time factor {self.real_time_factor:.2f}"
        if self.too_slow:
            text += " - too slow for real time: words will lag behind speech"
        return text

    @property
    def too_slow(self) -> bool:
        return not self.real_time_factor <= 1.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@contextmanager
def local_engine(model: str, checkpoint: Path | None) -> Iterator[LocalEngine]:
    """The engine while it runs; its API key is put in this process's environment, where the
    app's credentials look for a moshi-server key (never on a command line)."""
    key = secrets.token_urlsafe(16)
    # a frozen bundle (PyInstaller) is the command itself; it has no torch, and says so
    program = [sys.executable] if getattr(sys, "frozen", False) else [sys.executable, "-m", "app"]
    command = [*program, "engine", "--model", model, "--port", str(_free_port())]
    if logging.getLogger().isEnabledFor(logging.DEBUG):
        command += ["--log-level", "debug"]
    if checkpoint is not None:
        command += ["--checkpoint", str(checkpoint)]
    env = {**os.environ, ENGINE_KEY_ENV: key}
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, text=True)
    try:
        url = _wait_ready(process)
        engine = _describe(url)
        os.environ[Secret.MOSHI_API_KEY.env_name] = key
        (log.warning if engine.too_slow else log.info)("%s", engine.describe())
        yield engine
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_ready(process: subprocess.Popen[str]) -> str:
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


def _describe(url: str) -> LocalEngine:
    """The engine's ``/api/modules_info``: its device and measured real-time factor."""
    info_url = url.replace("ws://", "http://", 1).split("/api/")[0] + "/api/modules_info"
    with urllib.request.urlopen(info_url, timeout=10) as response:  # loopback only
        info = json.loads(response.read())[0]
    return LocalEngine(url, info.get("device", "?"), float(info.get("real_time_factor", "nan")))
