"""A private session D-Bus for tests: its own dbus-daemon, its own socket, nothing shared."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

CONFIG = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path={socket}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
    <allow user="*"/>
  </policy>
</busconfig>
"""


@contextlib.contextmanager
def private_session_bus(directory: Path) -> Iterator[str]:
    """Run a dbus-daemon on a socket in ``directory``; yield its address."""
    daemon = shutil.which("dbus-daemon")
    if daemon is None:
        raise RuntimeError("dbus-daemon is missing: run the README's test command (tests/run)")
    socket = directory / "bus"
    config = directory / "bus.conf"
    config.write_text(CONFIG.format(socket=socket), encoding="utf-8")
    process = subprocess.Popen(
        [daemon, f"--config-file={config}", "--nofork", "--print-address=1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "DBUS_SESSION_BUS_ADDRESS": ""},
    )
    try:
        assert process.stdout is not None
        address = process.stdout.readline().decode().strip()  # printed once it listens
        if not address:
            raise RuntimeError("dbus-daemon did not start")
        yield address
    finally:
        process.terminate()
        process.wait(timeout=10)
