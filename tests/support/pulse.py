"""A real PulseAudio server with a virtual microphone, for tests that capture audio.

A null sink at 24 kHz mono; its monitor is the default source, so what ``play`` sends to the
sink is what PortAudio (through ALSA's pulse plugin) captures, sample for sample. Silence
flows like a real microphone's when nothing plays. ``norewinds=1`` keeps the first 0.8 s.
A second null sink, ``speakers``, is the default output: what the app plays (sound cues)
goes there, not into the microphone, and :meth:`VirtualMicrophone.record_speakers` hears it.
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
load-module module-null-sink sink_name=speakers rate=24000 channels=1
set-default-source vmic.monitor
set-default-sink speakers
"""


@dataclass
class VirtualMicrophone:
    env: dict[str, str]  # environment for processes that should use this server
    config: Path
    server: subprocess.Popen[bytes] | None = None

    def play(self, wav: Path) -> None:
        """Play ``wav`` into the microphone; returns when it has been played."""
        subprocess.run(["paplay", "--device=vmic", str(wav)], env=self.env, check=True)

    def record_speakers(self, out: Path) -> subprocess.Popen[bytes]:
        """Start recording what is played to the speakers (raw s16le, 24 kHz mono) into
        ``out``; terminate the process to stop."""
        command = ["parec", "--device=speakers.monitor", "--format=s16le", "--rate=24000"]
        command += ["--channels=1", "--raw", str(out)]
        return subprocess.Popen(command, env=self.env)

    def start(self) -> None:
        """Start the sound server; returns once it answers."""
        command = ["pulseaudio", "-n", "-F", str(self.config), "--daemonize=no"]
        command += ["--exit-idle-time=-1", "--disallow-exit", "--log-target=stderr"]
        self.server = server = subprocess.Popen(
            command, env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        for _ in range(100):
            ready = subprocess.run(
                ["pactl", "info"], env=self.env, capture_output=True, check=False
            )
            if ready.returncode == 0:
                return
            if server.poll() is not None:
                assert server.stderr is not None
                raise RuntimeError(f"pulseaudio exited: {server.stderr.read().decode()}")
            time.sleep(0.1)
        raise RuntimeError("pulseaudio did not start")

    def kill(self) -> None:
        """Make the sound server vanish at once, as a microphone does when unplugged."""
        if self.server is not None:
            self.server.kill()
            self.server.wait(timeout=10)
            self.server = None

    def stop(self) -> None:
        if self.server is not None:
            self.server.terminate()
            self.server.wait(timeout=10)
            self.server = None


@contextmanager
def virtual_microphone(runtime_dir: Path) -> Iterator[VirtualMicrophone]:
    for tool in ("pulseaudio", "pactl", "paplay"):
        if shutil.which(tool) is None:
            raise RuntimeError(f"{tool} is missing: run the README's test command (tests/run)")
    runtime_dir.mkdir(parents=True, exist_ok=True)
    config = runtime_dir / "default.pa"
    config.write_text(CONFIG)
    microphone = VirtualMicrophone({**os.environ, "XDG_RUNTIME_DIR": str(runtime_dir)}, config)
    microphone.start()
    try:
        yield microphone
    finally:
        microphone.stop()


@contextmanager
def heard_in_this_process(mic: VirtualMicrophone) -> Iterator[None]:
    """Make this process's PortAudio list ``mic``'s server; the old devices come back after."""
    from app.audio.microphone import rescan_devices

    variable = "XDG_RUNTIME_DIR"  # where the pulse client library looks for the server
    before = os.environ.get(variable)
    os.environ[variable] = mic.env[variable]
    rescan_devices()  # PortAudio lists the devices once, when it starts
    try:
        yield
    finally:
        if before is None:
            del os.environ[variable]
        else:
            os.environ[variable] = before
        rescan_devices()
