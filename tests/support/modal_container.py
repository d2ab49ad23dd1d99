"""What the Modal app does inside its container, run in a fresh interpreter.

    python -m tests.support.modal_container OUT.json CONFIG_PATH

Modal's container entrypoint imports the app module again (``importlib.import_module`` in
modal/_runtime/user_code_imports.py) and calls the web function's raw function; the process
sees only the image's and the function's environment plus Modal's own variables. Run this
module with exactly that environment: it imports the app, calls ``serve`` with
``subprocess.Popen`` recording instead of starting moshi-server and the proxy, and writes
what the container would have run as JSON: the config text, each command line with its
``LD_LIBRARY_PATH``, and the GPU and slots the function declares.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

_started: list[dict[str, Any]] = []


class _RecordingPopen:
    """Records the command; ``wait`` blocks like a process that keeps running."""

    def __init__(self, args: list[str], env: dict[str, str] | None = None, **_: Any) -> None:
        _started.append({"args": list(args), "env": None if env is None else dict(env)})

    def wait(self) -> int:
        threading.Event().wait()
        return 0

    def terminate(self) -> None:
        pass


def main() -> None:
    out, config_path = Path(sys.argv[1]), sys.argv[2]
    subprocess.Popen = _RecordingPopen  # type: ignore[misc, assignment]

    from server.deploy.modal_cloud import app as module
    from tests.unit.deploy.modal_introspection import raw_function

    module.CONFIG_PATH = config_path  # not /tmp/stt.toml on the machine running the tests
    raw_function(module.serve)()
    info = module.serve.info()
    result = {
        "config": Path(config_path).read_text(),
        "processes": _started,
        "gpus": info.gpus,
        "max_inputs": info.concurrency_info.max_inputs,
    }
    out.write_text(json.dumps(result))


if __name__ == "__main__":
    main()
