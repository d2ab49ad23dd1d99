"""A real X server (Xvfb) for tests that type into windows."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def xvfb(display_number: int) -> Iterator[str]:
    """Start ``Xvfb :N`` and yield its display name once it answers."""
    if shutil.which("Xvfb") is None:
        raise RuntimeError("Xvfb is missing: run the README's test command (tests/run)")
    display = f":{display_number}"
    server = subprocess.Popen(
        ["Xvfb", display, "-screen", "0", "1280x800x24", "-nolisten", "tcp"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(100):
            probe = subprocess.run(
                ["xdpyinfo", "-display", display], capture_output=True, check=False
            )
            if probe.returncode == 0:
                break
            if server.poll() is not None:
                raise RuntimeError(f"Xvfb {display} exited (display in use?)")
            time.sleep(0.05)
        else:
            raise RuntimeError(f"Xvfb {display} did not answer")
        yield display
    finally:
        server.terminate()
        server.wait(timeout=10)
