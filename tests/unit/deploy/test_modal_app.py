"""The Modal app, imported offline: what it declares for each GPU and model."""

from __future__ import annotations

import importlib
import inspect
import json
import os
import subprocess
import sys
import sysconfig
import tomllib
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from server.deploy.modal_cloud import settings as modal_settings
from server.deploy.modal_cloud.settings import ModalSettings, app_name_for_gpu
from server.protocol import modal_url
from tests.unit.deploy.modal_introspection import (
    autoscaler_settings,
    function_env,
    image_commands,
    image_env,
    webhook_config,
)

ROOT = Path(__file__).resolve().parents[3]


def load_app(monkeypatch: pytest.MonkeyPatch, **env: str) -> ModuleType:
    for name in ("KYUTAI_GPU", "BATCH_SIZE", "MODEL_NAME", "KYUTAI_DICTATE_APP_NAME"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    import server.deploy.modal_cloud.app as module

    return importlib.reload(module)


@pytest.mark.parametrize(
    ("gpu", "capability"), [("L4", 89), ("L40S", 89), ("A10G", 86), ("A100", 80), ("H100", 90)]
)
@pytest.mark.parametrize("model", ["kyutai/stt-1b-en_fr", "kyutai/stt-2.6b-en"])
def test_declarations_per_gpu_and_model(
    monkeypatch: pytest.MonkeyPatch, gpu: str, capability: int, model: str
) -> None:
    module = load_app(monkeypatch, KYUTAI_GPU=gpu, BATCH_SIZE="12", MODEL_NAME=model)
    info = module.serve.info()
    assert info.gpus == [(gpu, 1)]
    assert info.timeout == 3600
    assert info.concurrency_info.max_inputs == 12  # streams per container = batch slots
    assert info.web_info.unauthenticated is False  # Modal proxy auth is on
    assert set(info.volumes) == {"/cache/huggingface"}
    assert info.volumes["/cache/huggingface"].name == "kyutai-dictate-hf-cache"

    web = webhook_config(module.serve)
    assert (web.web_server_port, web.requires_proxy_auth) == (8000, True)
    assert web.requested_suffix == "kyutai-dictate"

    scaling = autoscaler_settings(module.serve)
    assert (scaling.min_containers, scaling.buffer_containers) == (0, 0)
    assert (scaling.scaledown_window, scaling.max_containers) == (60, 10)

    commands = "\n".join(image_commands(module.image))
    assert f"ENV CUDA_COMPUTE_CAP={capability}" in commands
    assert "cargo install --locked --features cuda moshi-server@0.6.4" in commands
    assert "LD_LIBRARY_PATH" in commands
    assert "ENV HF_HOME=/cache/huggingface" in commands


def test_the_config_written_in_the_container_matches_the_model(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    module = load_app(monkeypatch, MODEL_NAME="kyutai/stt-2.6b-en", BATCH_SIZE="4")
    settings = module.SETTINGS
    from server.deploy.stt_config import stt_config

    config = tomllib.loads(stt_config(settings.model, batch_size=settings.batch_size))
    assert config["modules"]["asr"]["batch_size"] == 4
    assert config["modules"]["asr"]["asr_delay_in_tokens"] == 32


def test_defaults_and_app_name_per_gpu(monkeypatch: pytest.MonkeyPatch) -> None:
    module = load_app(monkeypatch)
    assert module.serve.info().gpus == [("L40S", 1)]
    assert module.serve.info().concurrency_info.max_inputs == 8
    assert module.SETTINGS.model.name == "stt-1b-en_fr"
    assert module.app.name == "kyutai-dictate"
    compared = load_app(monkeypatch, KYUTAI_DICTATE_APP_NAME=app_name_for_gpu("A10G"))
    assert compared.app.name == "kyutai-dictate-a10g"
    assert webhook_config(compared.serve).requested_suffix == "kyutai-dictate-a10g"
    assert modal_url.stream_url("me", "kyutai-dictate-a10g") == (
        "wss://me--kyutai-dictate-a10g.modal.run/v1/stream"
    )


def test_no_deprecated_modal_parameters() -> None:
    source = inspect.getsource(importlib.import_module("server.deploy.modal_cloud.app"))
    for old in ("keep_warm", "container_idle_timeout", "allow_concurrent_inputs",
                "concurrency_limit", "modal.Stub", "mounts="):  # fmt: skip
        assert old not in source


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"KYUTAI_GPU": "RTX9090"}, "KYUTAI_GPU"),
        ({"BATCH_SIZE": "0"}, "BATCH_SIZE"),
        ({"BATCH_SIZE": "many"}, "BATCH_SIZE"),
        ({"MODEL_NAME": "openai/whisper"}, "unknown model"),
        ({"KYUTAI_DICTATE_APP_NAME": "Bad Name"}, "KYUTAI_DICTATE_APP_NAME"),
    ],
)
def test_bad_settings_are_refused(env: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ModalSettings.from_env(env)


def test_gpu_names_are_case_insensitive() -> None:
    assert ModalSettings.from_env({"KYUTAI_GPU": "l40s"}).gpu == "L40S"
    assert set(modal_settings.COMPUTE_CAPABILITY) >= {"L4", "L40S", "A10G", "A100", "H100"}


def test_modal_deploy_without_a_token_fails_fast(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MODAL_")} | {
        "HOME": str(tmp_path),
        "MODAL_SERVER_URL": "http://127.0.0.1:9",
    }
    modal_cli = Path(sys.executable).with_name("modal")
    done = subprocess.run(
        [str(modal_cli), "deploy", "-m", "server.deploy.modal_cloud.app"],
        check=False,
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0
    assert "token" in (done.stdout + done.stderr).lower()


# What every Modal container has besides what the app declares: Modal's own variables
# (modal.com/docs/guide/environment_variables) and the CUDA base image's ENV lines
# (gitlab.com/nvidia/container-images/cuda, dist/12.8.1/ubuntu2204/base/Dockerfile).
MODAL_RUNTIME_ENV = {
    "MODAL_CLOUD_PROVIDER": "CLOUD_PROVIDER_AWS",
    "MODAL_ENVIRONMENT": "main",
    "MODAL_IMAGE_ID": "im-0123456789",
    "MODAL_IS_REMOTE": "1",
    "MODAL_REGION": "us-east-1",
    "MODAL_TASK_ID": "ta-0123456789",
}
CUDA_IMAGE_ENV = {
    "PATH": "/usr/local/nvidia/bin:/usr/local/cuda/bin:/usr/local/sbin:/usr/local/bin:"
    "/usr/sbin:/usr/bin:/sbin:/bin",
    "LD_LIBRARY_PATH": "/usr/local/nvidia/lib:/usr/local/nvidia/lib64",
    "NVIDIA_VISIBLE_DEVICES": "all",
}


def run_in_container(module: ModuleType, tmp_path: Path) -> dict[str, Any]:
    """Start a fresh interpreter with only the container's environment: the base image's,
    the app image's ENV lines, the function's ``env`` and Modal's variables."""
    env = (
        CUDA_IMAGE_ENV
        | image_env(module.image)
        | function_env(module.serve)
        | MODAL_RUNTIME_ENV
        | {"HOME": str(tmp_path)}
    )
    out, config = tmp_path / "container.json", tmp_path / "stt.toml"
    done = subprocess.run(
        [sys.executable, "-m", "tests.support.modal_container", str(out), str(config)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(out.read_text())
    return result


def test_the_container_serves_the_deployed_model_and_batch_size(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    module = load_app(
        monkeypatch, KYUTAI_GPU="A10G", BATCH_SIZE="16", MODEL_NAME="kyutai/stt-2.6b-en"
    )
    seen = run_in_container(module, tmp_path)
    assert seen["gpus"] == [["A10G", 1]]
    assert seen["max_inputs"] == 16
    asr = tomllib.loads(seen["config"])["modules"]["asr"]
    assert asr["batch_size"] == 16
    assert asr["lm_model_file"] == "hf://kyutai/stt-2.6b-en-candle/model.safetensors"
    assert asr["asr_delay_in_tokens"] == 32
    assert "dtype_override" not in asr  # compute capability 86 runs bf16
    backend, proxy = seen["processes"]
    assert backend["args"][0].endswith("moshi-server")
    assert backend["args"][backend["args"].index("--config") + 1] == str(tmp_path / "stt.toml")
    assert proxy["args"][proxy["args"].index("--model") + 1] == "stt-2.6b-en"


def test_the_container_runs_f32_on_a_t4(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    module = load_app(monkeypatch, KYUTAI_GPU="T4", BATCH_SIZE="4")
    seen = run_in_container(module, tmp_path)
    assert seen["gpus"] == [["T4", 1]]
    asr = tomllib.loads(seen["config"])["modules"]["asr"]
    assert (asr["batch_size"], asr["dtype_override"]) == (4, "f32")
    proxy = seen["processes"][1]
    assert proxy["args"][proxy["args"].index("--model") + 1] == "stt-1b-en_fr"


def test_moshi_server_keeps_the_images_library_path(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    module = load_app(monkeypatch)
    backend = run_in_container(module, tmp_path)["processes"][0]
    paths = backend["env"]["LD_LIBRARY_PATH"].split(":")
    assert paths[0] == sysconfig.get_config_var("LIBDIR")  # libpython for pyo3
    assert paths[1:] == CUDA_IMAGE_ENV["LD_LIBRARY_PATH"].split(":")


def test_the_build_keeps_the_images_library_path(monkeypatch: pytest.MonkeyPatch) -> None:
    module = load_app(monkeypatch)
    build = next(c for c in image_commands(module.image) if "cargo install" in c)
    setup = build.removeprefix("RUN ").split(" && ")[0]  # everything before cargo runs
    done = subprocess.run(
        ["sh", "-c", f'{setup} && printf %s "$LD_LIBRARY_PATH"'],
        env={"PATH": os.environ["PATH"], "LD_LIBRARY_PATH": CUDA_IMAGE_ENV["LD_LIBRARY_PATH"]},
        capture_output=True,
        text=True,
        check=True,
    )
    assert done.stdout.split(":")[1:] == CUDA_IMAGE_ENV["LD_LIBRARY_PATH"].split(":")


def test_settings_read_back_from_their_environment() -> None:
    settings = ModalSettings.from_env(
        {"KYUTAI_GPU": "t4", "BATCH_SIZE": "3", "MODEL_NAME": "kyutai/stt-2.6b-en",
         "KYUTAI_DICTATE_APP_NAME": "kyutai-dictate-t4"}
    )  # fmt: skip
    assert ModalSettings.from_env(settings.to_env()) == settings


@pytest.mark.parametrize("first", ["backend", "proxy"])
def test_the_container_exits_when_either_process_exits(
    monkeypatch: pytest.MonkeyPatch, first: str
) -> None:
    """moshi-server exiting, or the proxy exiting on a stalled backend (--exit-when-stalled),
    takes the container down so that Modal replaces it."""
    module = load_app(monkeypatch)
    assert "--exit-when-stalled" in inspect.getsource(module)
    quick = [sys.executable, "-c", "import sys; sys.exit(3)"]
    slow = [sys.executable, "-c", "import time; time.sleep(60)"]
    backend = subprocess.Popen(quick if first == "backend" else slow)
    proxy = subprocess.Popen(quick if first == "proxy" else slow)
    exits: list[int] = []
    try:
        module._stop_when_either_exits(backend, proxy, exits.append)
    finally:
        backend.kill()
        proxy.kill()
    assert exits == [1]
    assert (backend if first == "proxy" else proxy).wait(10) != 0  # the other one was stopped
