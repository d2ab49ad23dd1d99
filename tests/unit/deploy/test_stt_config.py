"""The generated moshi-server configs match Kyutai's published configs field by field.

The expected values are written out here from kyutai-labs/delayed-streams-modeling's
configs/config-stt-en_fr-hf.toml and configs/config-stt-en-hf.toml, not derived from our
model table, so a wrong fact in the table fails the test.
"""

from __future__ import annotations

import tomllib

import pytest

from server.deploy.stt_config import stt_config
from server.models import STT_1B, STT_2_6B

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
