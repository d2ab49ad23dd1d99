"""The generated moshi-server configs match Kyutai's published configs field by field.

The expected values are written out here from kyutai-labs/delayed-streams-modeling's
configs/config-stt-en_fr-hf.toml and configs/config-stt-en-hf.toml, not derived from our
model table, so a wrong fact in the table fails the test.
"""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from server.deploy.stt_config import stt_config
from server.models import STT_1B, STT_2_6B, ModelProfile
from tests.support.pretend_pve import pve_host_env

ROOT = Path(__file__).resolve().parents[3]

COMMON_TRANSFORMER = {
    "d_model": 2048,
    "dim_feedforward": 8192,
    "causal": True,
    "norm_first": True,
    "bias_ff": False,
    "bias_attn": False,
    "max_period": 100000,
    "use_conv_block": False,
    "use_conv_bias": True,
    "gating": "silu",
    "norm": "RmsNorm",
    "positional_embedding": "Rope",
    "conv_layout": False,
    "conv_kernel_size": 3,
    "kv_repeat": 1,
    "max_seq_len": 40960,
}


def test_one_b_config() -> None:
    config = tomllib.loads(stt_config(STT_1B, batch_size=8))
    asr = config["modules"]["asr"]
    assert asr["type"] == "BatchedAsr"
    assert asr["path"] == "/api/asr-streaming"
    hf = "hf://kyutai/stt-1b-en_fr-candle"
    assert asr["lm_model_file"] == f"{hf}/model.safetensors"
    assert asr["text_tokenizer_file"] == f"{hf}/tokenizer_en_fr_audio_8000.model"
    assert asr["audio_tokenizer_file"] == f"{hf}/mimi-pytorch-e351c8d8@125.safetensors"
    assert asr["asr_delay_in_tokens"] == 6
    assert asr["batch_size"] == 8
    assert asr["conditioning_learnt_padding"] is True
    assert asr["temperature"] == 0.0
    model = asr["model"]
    assert (model["audio_vocab_size"], model["text_in_vocab_size"]) == (2049, 8001)
    assert (model["text_out_vocab_size"], model["audio_codebooks"]) == (8000, 32)
    assert model["transformer"] == {
        **COMMON_TRANSFORMER,
        "num_heads": 16,
        "num_layers": 16,
        "context": 750,
    }
    assert model["extra_heads"] == {"num_heads": 4, "dim": 6}


def test_two_point_six_b_config() -> None:
    config = tomllib.loads(stt_config(STT_2_6B))
    asr = config["modules"]["asr"]
    hf = "hf://kyutai/stt-2.6b-en-candle"
    assert asr["lm_model_file"] == f"{hf}/model.safetensors"
    assert asr["text_tokenizer_file"] == f"{hf}/tokenizer_en_audio_4000.model"
    assert asr["audio_tokenizer_file"] == f"{hf}/mimi-pytorch-e351c8d8@125.safetensors"
    assert asr["asr_delay_in_tokens"] == 32
    assert asr["batch_size"] == 16  # Kyutai's default for this model
    model = asr["model"]
    assert (model["audio_vocab_size"], model["text_in_vocab_size"]) == (2049, 4001)
    assert (model["text_out_vocab_size"], model["audio_codebooks"]) == (4000, 32)
    assert model["transformer"] == {
        **COMMON_TRANSFORMER,
        "num_heads": 32,
        "num_layers": 48,
        "context": 375,
    }
    assert "extra_heads" not in model  # the 2.6B checkpoint has no pause heads


def test_top_level_and_keys() -> None:
    config = tomllib.loads(stt_config(STT_1B, api_keys=("a-key", 'b"quoted'), log_dir="/var/log/x"))
    assert config["authorized_ids"] == ["a-key", 'b"quoted']
    assert config["log_dir"] == "/var/log/x"
    assert {"static_dir", "instance_name"} <= config.keys()
    assert config["modules"]["asr"]["batch_size"] == 64


@pytest.mark.parametrize(
    ("kwargs", "message"), [({"batch_size": 0}, "batch size"), ({"api_keys": ()}, "API key")]
)
def test_refuses_configs_that_cannot_serve(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        stt_config(STT_1B, **kwargs)  # type: ignore[arg-type]


# moshi-server 0.6.4 (kyutai-labs/moshi, rust/moshi-server/src/main.rs): AsrConfig has
# `dtype_override: Option<String>` and is flattened into the BatchedAsr module, so the key
# sits in [modules.asr]; batched_asr.rs passes it to utils::model_dtype, which parses it with
# candle's DType::from_str and otherwise picks bf16 on CUDA (no bf16 kernels below 8.0).
@pytest.mark.parametrize("model", [STT_1B, STT_2_6B], ids=lambda m: m.name)
@pytest.mark.parametrize("capability", [60, 70, 75])
def test_gpus_older_than_ampere_run_f32(model: ModelProfile, capability: int) -> None:
    config = tomllib.loads(stt_config(model, compute_capability=capability))
    assert config["modules"]["asr"]["dtype_override"] == "f32"
    assert "dtype_override" not in config["modules"]["asr"]["model"]


@pytest.mark.parametrize("model", [STT_1B, STT_2_6B], ids=lambda m: m.name)
@pytest.mark.parametrize("capability", [None, 80, 86, 89, 90])
def test_ampere_and_newer_keep_the_servers_default(
    model: ModelProfile, capability: int | None
) -> None:
    config = tomllib.loads(stt_config(model, compute_capability=capability))
    assert "dtype_override" not in config["modules"]["asr"]


@pytest.mark.parametrize(("given", "dtype"), [("75", "f32"), ("7.5", "f32"), ("86", None)])
def test_the_command_line_takes_the_compute_capability(given: str, dtype: str | None) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "server.deploy.stt_config", "--model", "stt-2.6b-en",
         "--compute-capability", given],
        capture_output=True, text=True, check=True, cwd=ROOT,
    )  # fmt: skip
    assert tomllib.loads(done.stdout)["modules"]["asr"].get("dtype_override") == dtype


def test_the_command_line_refuses_a_bad_compute_capability() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "server.deploy.stt_config", "--compute-capability", "sm_75"],
        capture_output=True, text=True, check=False, cwd=ROOT,
    )  # fmt: skip
    assert done.returncode == 2
    assert "compute capability" in done.stderr
    assert done.stdout == ""


def _install_config_step() -> str:
    """container-install.sh's statement that writes stt.toml, as written in the script."""
    lines = (ROOT / "server/deploy/proxmox/container-install.sh").read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if "-m server.deploy.stt_config" in line)
    end = start
    while lines[end].endswith("\\"):
        end += 1
    return "\n".join(lines[start : end + 1])


@pytest.mark.parametrize(
    ("exported", "nvidia_smi", "dtype"),
    [
        ("75", "7.5", "f32"),  # the first run: CUDA_COMPUTE_CAP was set for the build
        (None, "7.5", "f32"),  # moshi-server already built: read from nvidia-smi again
        (None, "8.9", None),
    ],
)
def test_the_proxmox_install_writes_f32_for_older_gpus(
    tmp_path: Path, exported: str | None, nvidia_smi: str, dtype: str | None
) -> None:
    python = tmp_path / "prefix/venv/bin/python"
    python.parent.mkdir(parents=True)
    python.write_text(f'#!/bin/sh\nexec "{sys.executable}" "$@"\n')
    python.chmod(0o755)
    etc = tmp_path / "etc"
    etc.mkdir()
    (etc / "backend-key").write_text("backend-key\n")
    script = "\n".join([
        "set -euo pipefail",
        'install_file() { cat >"$1"; echo changed; }',
        "changed=",
        _install_config_step(),
    ])  # fmt: skip
    env = pve_host_env(tmp_path) | {
        "SRC": str(ROOT), "PREFIX": str(tmp_path / "prefix"), "ETC": str(etc),
        "MODEL": "stt-2.6b-en", "BATCH_SIZE": "4", "STANDIN_COMPUTE_CAP": nvidia_smi,
    }  # fmt: skip
    if exported is not None:
        env["CUDA_COMPUTE_CAP"] = exported
    done = subprocess.run(
        ["bash", "-c", script], env=env, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    asr = tomllib.loads((etc / "stt.toml").read_text())["modules"]["asr"]
    assert (asr["batch_size"], asr.get("dtype_override")) == (4, dtype)


@given(
    log_dir=st.text(),
    api_keys=st.lists(st.text(), min_size=1, max_size=3).map(tuple),
)
def test_any_string_value_reads_back_unchanged(log_dir: str, api_keys: tuple[str, ...]) -> None:
    """TOML is not JSON: it refuses DEL and surrogate escapes (what json.dumps writes for
    characters beyond the BMP), so string values must be written by a TOML writer."""
    config = tomllib.loads(stt_config(STT_1B, log_dir=log_dir, api_keys=api_keys))
    assert (config["log_dir"], config["authorized_ids"]) == (log_dir, list(api_keys))
