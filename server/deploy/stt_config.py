"""moshi-server's TOML configuration for a Kyutai STT model, from one function for all models.

python -m server.deploy.stt_config --model stt-1b-en_fr --batch-size 8 \
    --compute-capability 75 > stt.toml
"""

from __future__ import annotations

import argparse

import tomli_w

from server.models import MODELS, ModelProfile, model_profile
from server.protocol import moshi

MIMI = "mimi-pytorch-e351c8d8@125.safetensors"  # the audio tokenizer both models share
# moshi-server runs the model in bf16 on CUDA; candle has no bf16 kernels below compute
# capability 8.0 (pre-Ampere: T4, RTX 20xx), so those GPUs get f32 (kyutai-labs/moshi#355).
BF16_MIN_COMPUTE_CAPABILITY = 80


def stt_config(
    model: ModelProfile,
    *,
    batch_size: int | None = None,
    api_keys: tuple[str, ...] = ("public_token",),
    log_dir: str = "/tmp/moshi-server-logs",
    static_dir: str = "./static/",
    compute_capability: int | None = None,
) -> str:
    """The TOML text of a moshi-server config serving ``model`` at ``/api/asr-streaming``.

    ``compute_capability`` (e.g. 75 for a T4): below 80, ``dtype_override = "f32"``, a field
    of moshi-server's AsrConfig, flattened into the ``BatchedAsr`` module (moshi-server 0.6.4,
    rust/moshi-server/src/main.rs; read in batched_asr.rs through utils::model_dtype).
    """
    batch = model.default_batch_size if batch_size is None else batch_size
    if batch < 1:
        raise ValueError(f"batch size must be at least 1, got {batch}")
    if not api_keys:
        raise ValueError("at least one API key is needed (moshi-server's authorized_ids)")
    arch = model.architecture
    hf = f"hf://{model.candle_repo}"
    asr: dict[str, object] = {
        "path": moshi.PATH,
        "type": "BatchedAsr",
        "lm_model_file": f"{hf}/model.safetensors",
        "text_tokenizer_file": f"{hf}/{model.text_tokenizer}",
        "audio_tokenizer_file": f"{hf}/{MIMI}",
        "asr_delay_in_tokens": model.delay_frames,
        "batch_size": batch,
        "conditioning_learnt_padding": True,
        "temperature": 0.0,
    }
    if compute_capability is not None and compute_capability < BF16_MIN_COMPUTE_CAPABILITY:
        asr["dtype_override"] = "f32"
    lm: dict[str, object] = {
        "audio_vocab_size": arch.audio_vocab_size,
        "text_in_vocab_size": arch.text_in_vocab_size,
        "text_out_vocab_size": arch.text_out_vocab_size,
        "audio_codebooks": arch.audio_codebooks,
        "transformer": {
            "d_model": arch.d_model,
            "num_heads": arch.num_heads,
            "num_layers": arch.num_layers,
            "dim_feedforward": arch.dim_feedforward,
            "causal": True,
            "norm_first": True,
            "bias_ff": False,
            "bias_attn": False,
            "context": arch.context,
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
        },
    }
    if arch.extra_heads is not None:
        heads, dim = arch.extra_heads
        lm["extra_heads"] = {"num_heads": heads, "dim": dim}
    asr["model"] = lm
    config = {
        "static_dir": static_dir,
        "log_dir": log_dir,
        "instance_name": "stt",
        "authorized_ids": list(api_keys),
        "modules": {"asr": asr},
    }
    return tomli_w.dumps(config)


def main() -> None:
    parser = argparse.ArgumentParser(description="Print a moshi-server STT config.")
    parser.add_argument(
        "--model", default="stt-1b-en_fr", choices=[*MODELS, *(m.repo for m in MODELS.values())]
    )
    parser.add_argument("--batch-size", type=int)
    parser.add_argument("--api-key", action="append", help="accepted kyutai-api-key (repeatable)")
    parser.add_argument("--log-dir", default="/tmp/moshi-server-logs")
    parser.add_argument(
        "--compute-capability",
        type=_compute_capability,
        help="the GPU's CUDA compute capability, 75 or 7.5 (below 80: the model runs in f32)",
    )
    args = parser.parse_args()
    keys = tuple(args.api_key or ["public_token"])
    print(
        stt_config(
            model_profile(args.model),
            batch_size=args.batch_size,
            api_keys=keys,
            log_dir=args.log_dir,
            compute_capability=args.compute_capability,
        ),
        end="",
    )


def _compute_capability(text: str) -> int:
    """``75`` or ``7.5`` (nvidia-smi's ``compute_cap``) as 75."""
    major, dot, minor = text.strip().partition(".")
    digits = major + minor if dot else major
    if not (major.isdigit() and (not dot or (minor.isdigit() and len(minor) == 1))):
        raise argparse.ArgumentTypeError(f"{text!r} is not a compute capability such as 75 or 7.5")
    return int(digits)


if __name__ == "__main__":
    main()
