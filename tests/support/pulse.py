"""A real PulseAudio server with a virtual microphone, for tests that capture audio.

A null sink at 24 kHz mono; its monitor is the default source, so what ``play`` sends to the
sink is what PortAudio (through ALSA's pulse plugin) captures, sample for sample. Silence
flows like a real microphone's when nothing plays. ``norewinds=1`` keeps the first 0.8 s.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

CONFIG = """\
load-module module-native-protocol-unix
load-module module-null-sink sink_name=vmic rate=24000 channels=1 norewinds=1
set-default-source vmic.monitor
set-default-sink vmic
"""


@dataclass(frozen=True)
class VirtualMicrophone:
    env: dict[str, str]  # environment for processes that should use this server

    def play(self, wav: Path) -> None:
        """Play ``wav`` into the microphone; returns when it has been played."""
        subprocess.run(["paplay", "--device=vmic", str(wav)], env=self.env, check=True)


@contextmanager
def virtual_microphone(runtime_dir: Path) -> Iterator[VirtualMicrophone]:
    for tool in ("pulseaudio", "pactl", "paplay"):
        if shutil.which(tool) is None:
            raise RuntimeError(f"{tool} is missing: run the README's test command (tests/run)")
    runtime_dir.mkdir(parents=True, exist_ok=True)
    config = runtime_dir / "default.pa"
    config.write_text(CONFIG)
    env = {**os.environ, "XDG_RUNTIME_DIR": str(runtime_dir)}
    command = ["pulseaudio", "-n", "-F", str(config), "--daemonize=no"]
    command += ["--exit-idle-time=-1", "--disallow-exit", "--log-target=stderr"]
    server = subprocess.Popen(
        command,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        for _ in range(100):
            ready = subprocess.run(["pactl", "info"], env=env, capture_output=True, check=False)
            if ready.returncode == 0:
                break
            if server.poll() is not None:
                raise RuntimeError(f"pulseaudio exited: {server.stderr.read().decode()}")  # type: ignore[union-attr]
            time.sleep(0.1)
        else:
            raise RuntimeError("pulseaudio did not start")
        yield VirtualMicrophone(env)
    finally:
        server.terminate()
        server.wait(timeout=10)
