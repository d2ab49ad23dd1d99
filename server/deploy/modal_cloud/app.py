"""kyutai-dictate's backend on Modal: moshi-server on a GPU behind this project's proxy.

    KYUTAI_GPU=L40S BATCH_SIZE=8 MODEL_NAME=kyutai/stt-1b-en_fr \\
        modal deploy -m server.deploy.modal_cloud.app          (or: kyutai-dictate deploy modal)

One container runs moshi-server (127.0.0.1:8998) and the proxy (0.0.0.0:8000, /v1/stream).
The proxy starts listening only once moshi-server has handed out a session (``Ready``), so
Modal routes traffic to a container only when its model is warm. Modal's proxy auth guards
the endpoint (clients send ``Modal-Key`` / ``Modal-Secret``). Each container takes as many
streams as the model has batch slots; the next one starts a new container. With no
connection for 60 s, the container stops (the proxy closes idle streams after 10 s).

Modal imports this module again inside the container, where the deploying shell's variables
are not set: the function declares the settings in its own environment (``env=``), so the
container reads the same ``SETTINGS`` as the deploy did.
"""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
import threading
import time
from collections.abc import Callable
from pathlib import Path

import modal

from server.deploy.modal_cloud.settings import MOSHI_SERVER_VERSION, ModalSettings
from server.deploy.stt_config import stt_config

SETTINGS = ModalSettings.from_env()
PROXY_PORT = 8000
BACKEND_PORT = 8998
HF_CACHE = "/cache/huggingface"
CONFIG_PATH = "/tmp/stt.toml"
MINUTES = 60
LIBDIR = 'import sysconfig; print(sysconfig.get_config_var("LIBDIR"))'

image = (
    modal.Image.from_registry("nvidia/cuda:12.8.1-devel-ubuntu22.04", add_python="3.11")
    .apt_install("curl", "build-essential", "pkg-config", "libssl-dev", "cmake", "git")
    .run_commands("curl -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal")
    .env({"CUDA_COMPUTE_CAP": str(SETTINGS.compute_capability)})
    .run_commands(
        # moshi-server embeds Python (pyo3): libpython must be found at build and run time.
        f"export LD_LIBRARY_PATH=$(python -c '{LIBDIR}')${{LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}}"
        " && /root/.cargo/bin/cargo install"
        f" --locked --features cuda moshi-server@{MOSHI_SERVER_VERSION}"
    )
    .uv_pip_install("websockets>=15,<18", "msgpack>=1.0", "numpy>=1.26", "uvloop>=0.19")
    .env({"HF_HOME": HF_CACHE, "PYTHONUNBUFFERED": "1"})
    .add_local_python_source("server")  # add_local_* steps come last
)
hf_cache = modal.Volume.from_name("kyutai-dictate-hf-cache", create_if_missing=True)

app = modal.App(SETTINGS.app_name, image=image)
# What the container's own import of this module reads SETTINGS from.
CONTAINER_ENV: dict[str, str | None] = {**SETTINGS.to_env()}


@app.function(
    gpu=SETTINGS.gpu,
    env=CONTAINER_ENV,
    volumes={HF_CACHE: hf_cache},
    timeout=60 * MINUTES,  # the longest single stream
    scaledown_window=60,  # scale to zero a minute after the last connection
    min_containers=0,
    buffer_containers=0,
    max_containers=10,
)
@modal.concurrent(max_inputs=SETTINGS.batch_size)  # one stream per batch slot
@modal.web_server(
    PROXY_PORT, startup_timeout=20 * MINUTES, label=SETTINGS.app_name, requires_proxy_auth=True
)
def serve() -> None:
    """Start moshi-server and the proxy; Modal waits until the proxy's port opens."""
    Path(CONFIG_PATH).write_text(
        stt_config(
            SETTINGS.model,
            batch_size=SETTINGS.batch_size,
            log_dir="/tmp/moshi-logs",
            compute_capability=SETTINGS.compute_capability,
        )
    )
    # libpython's folder first (moshi-server embeds Python); the CUDA image's entries stay.
    paths = [sysconfig.get_config_var("LIBDIR"), os.environ.get("LD_LIBRARY_PATH")]
    env = {**os.environ, "LD_LIBRARY_PATH": os.pathsep.join(p for p in paths if p)}
    backend = subprocess.Popen(
        [
            "/root/.cargo/bin/moshi-server",
            "worker",
            "--config",
            CONFIG_PATH,
            "--addr",
            "127.0.0.1",
            "--port",
            str(BACKEND_PORT),
        ],
        env=env,
    )
    proxy = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "server.proxy",
            "--host",
            "0.0.0.0",
            "--port",
            str(PROXY_PORT),
            "--backend",
            f"ws://127.0.0.1:{BACKEND_PORT}/api/asr-streaming",
            "--model",
            SETTINGS.model.name,
            "--idle-timeout",
            "10",
            "--max-message-bytes",
            str(2 * 1024 * 1024 - 1024),
            "--startup-timeout",
            str(20 * MINUTES),
            "--wait-backend",
            "--exit-when-stalled",
            "--no-auth",
        ],
    )
    threading.Thread(target=_stop_when_either_exits, args=(backend, proxy), daemon=True).start()


def _stop_when_either_exits(
    backend: subprocess.Popen[bytes],
    proxy: subprocess.Popen[bytes],
    exit: Callable[[int], object] = os._exit,
) -> None:
    """If moshi-server exits, or the proxy does (it exits when moshi-server's model loop has
    stalled), take the container down so that Modal replaces it: a proxy left running would
    keep taking streams it cannot serve."""
    while backend.poll() is None and proxy.poll() is None:
        time.sleep(1)
    for name, process in (("moshi-server", backend), ("the proxy", proxy)):
        if process.poll() is not None:
            print(
                f"{name} exited with {process.returncode}; stopping the container", file=sys.stderr
            )
        else:
            process.terminate()
    exit(1)
