"""``kyutai-dictate devices``: list the audio input devices ``--device`` can name."""

from __future__ import annotations

import sys
from typing import TextIO

from app.audio.microphone import NO_DEVICES_HINT, format_devices, list_input_devices


def run_devices(out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Print the input devices (``*`` marks the default); 1 when there are none."""
    out, err = out or sys.stdout, err or sys.stderr
    devices = list_input_devices()
    if not devices:
        print(f"kyutai-dictate: {NO_DEVICES_HINT}", file=err)
        return 1
    print(format_devices(devices), file=out)
    return 0
