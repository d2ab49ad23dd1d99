"""A tiny, randomly initialised Kyutai STT checkpoint directory, for the engine's tests.

It has the layout of ``kyutai/stt-1b-en_fr`` (kyutai-labs/moshi ``configs/stt_1b_enfr.json``
and ``moshi/models/loaders.py`` ``CheckpointInfo.from_hf_repo``): ``config.json`` naming the LM
weights, the Mimi weights (plus a ``mimi_config_name`` file for the tiny Mimi) and a
sentencepiece tokenizer trained here on a few lines, with ``text_card`` equal to its
vocabulary size. A fresh Mimi has all-zero codebooks (every code 0); they are initialised by
k-means on the latents of synthetic audio, so different audio gives different codes.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

TOKENIZER_LINES = [
    "hello world this is a dictation test",
    "the quick brown fox jumps over the lazy dog",
    "please type this sentence into the window",
    "one two three four five six seven eight nine ten",
    "kyutai speech to text runs on this computer",
    "a local engine serves the same protocol as the server",
    "every word typed here comes from the model",
    "good morning and thank you for listening",
]
VOCAB_SIZE = 64
CODEBOOKS = 4  # the deeper residual levels of a random Mimi are near-ties that float noise flips
BINS = 64
EXTRA_HEADS = (4, 6)

MIMI_CONFIG = {
    "sample_rate": 24000,
    "channels": 1,
    "frame_rate": 12.5,
    "seanet": {
        "channels": 1,
        "dimension": 32,
        "causal": True,
        "n_filters": 4,
        "n_residual_layers": 1,
        "activation": "ELU",
        "compress": 2,
        "dilation_base": 2,
        "disable_norm_outer_blocks": 0,
        "kernel_size": 7,
        "residual_kernel_size": 3,
        "last_kernel_size": 3,
        "norm": "none",
        "pad_mode": "constant",
        "ratios": [8, 6, 5, 4],
        "true_skip": True,
    },
    "quantizer": {
        "dimension": 16,
        "n_q": CODEBOOKS,
        "bins": BINS,
        "input_dimension": 32,
        "output_dimension": 32,
    },
    "transformer": {
        "d_model": 32,
        "num_heads": 2,
        "num_layers": 1,
        "causal": True,
        "layer_scale": 0.01,
        "context": 250,
        "conv_layout": True,
        "max_period": 10000,
        "gating": "none",
        "norm": "layer_norm",
        "positional_embedding": "rope",
        "dim_feedforward": 64,
        "input_dimension": 32,
        "output_dimensions": [32],
    },
}


def lm_config(
    text_card: int,
    dim: int = 64,
    num_layers: int = 2,
    num_heads: int = 4,
    n_q: int = CODEBOOKS,
    card: int = BINS,
    extra_heads: tuple[int, int] | None = EXTRA_HEADS,
    delay_seconds: float = 0.48,
    context: int = 750,
) -> dict[str, object]:
    """An STT ``config.json`` in the shape of stt-1b-en_fr's (dep_q 0, every delay 0)."""
    config: dict[str, object] = {
        "dim": dim,
        "text_card": text_card,
        "existing_text_padding_id": 3,
        "n_q": n_q,
        "dep_q": 0,
        "card": card,
        "num_heads": num_heads,
        "num_layers": num_layers,
        "hidden_scale": 4.125,
        "causal": True,
        "layer_scale": None,
        "context": context,
        "max_period": 10000,
        "gating": "silu",
        "norm": "rms_norm_f32",
        "positional_embedding": "rope",
        "depformer_dim": 16,
        "depformer_num_heads": 1,
        "depformer_num_layers": 1,
        "depformer_dim_feedforward": 16,
        "depformer_multi_linear": True,
        "depformer_context": 8,
        "depformer_pos_emb": "none",
        "depformer_weights_per_step": True,
        "delays": [0] * (n_q + 1),
        "demux_second_stream": False,
        "conditioners": {},
        "fuser": None,
        "model_type": "stt",
        "stt_config": {"audio_delay_seconds": delay_seconds, "audio_silence_prefix_seconds": 0.0},
        "lm_gen_config": {"temp": 0.0, "temp_text": 0.0, "top_k": 250, "top_k_text": 50},
        "moshi_name": "model.safetensors",
        "mimi_name": "mimi.safetensors",
        "mimi_config_name": "mimi_config.json",
        "tokenizer_name": "tokenizer.model",
    }
    if extra_heads is not None:
        config["extra_heads_num_heads"], config["extra_heads_dim"] = extra_heads
    return config


def train_tokenizer(directory: Path) -> int:
    """A sentencepiece model in ``directory/tokenizer.model``; returns its vocabulary size."""
    import sentencepiece

    corpus = directory / "corpus.txt"
    corpus.write_text("\n".join(TOKENIZER_LINES * 4) + "\n")
    sentencepiece.SentencePieceTrainer.train(
        input=str(corpus),
        model_prefix=str(directory / "tokenizer"),
        vocab_size=VOCAB_SIZE,
        model_type="unigram",
        unk_id=0,
        bos_id=1,
        eos_id=2,
        pad_id=3,  # 3 is the model's padding token, 0 its end of padding (moshi lm.py)
        minloglevel=2,
    )
    corpus.unlink()
    (directory / "tokenizer.vocab").unlink()
    return VOCAB_SIZE


def _training_audio(seconds: float = 8.0, seed: int = 0) -> np.ndarray:
    """Varied synthetic sound (chirps, tones and noise bursts) for the codebooks' k-means."""
    rng = np.random.default_rng(seed)
    rate = 24_000
    out = []
    for _ in range(int(seconds / 0.25)):
        t = np.arange(int(0.25 * rate)) / rate
        f0, f1 = rng.uniform(80, 3000, size=2)
        tone = np.sin(2 * np.pi * (f0 * t + (f1 - f0) * t**2 * 2))
        noise = rng.normal(0, 1, len(t))
        mix = rng.uniform(0, 1)
        out.append(rng.uniform(0.05, 0.5) * (mix * tone + (1 - mix) * noise))
    return np.concatenate(out).astype(np.float32)


def make_tiny_checkpoint(directory: Path, seed: int = 0, **lm_overrides: object) -> Path:
    """Write a loadable checkpoint into ``directory`` (created) and return it."""
    import torch
    from moshi.models import loaders
    from safetensors.torch import save_file

    directory.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)
    text_card = train_tokenizer(directory)
    (directory / "mimi_config.json").write_text(json.dumps(MIMI_CONFIG))
    mimi = loaders.get_mimi(None, MIMI_CONFIG, num_codebooks=CODEBOOKS)
    audio = torch.from_numpy(_training_audio(seed=seed))[None, None]
    with torch.no_grad():
        latent = mimi._encode_to_unquantized_latent(audio)
        mimi.quantizer.train()
        for _ in range(CODEBOOKS):  # each forward runs k-means for the next uninitialised level
            mimi.quantizer(latent, mimi.frame_rate)
        mimi.quantizer.eval()
    save_file(
        {k: v.contiguous() for k, v in mimi.state_dict().items()}, directory / "mimi.safetensors"
    )

    config = lm_config(text_card, **lm_overrides)  # type: ignore[arg-type]
    (directory / "config.json").write_text(json.dumps(config, indent=1))
    lm_kwargs = {k: v for k, v in config.items() if k not in _NOT_LM_KWARGS}
    lm = loaders.get_moshi_lm(None, lm_kwargs=lm_kwargs, device="cpu", dtype=torch.float32)
    with torch.no_grad():  # the text head's logits spread enough that argmax varies with audio
        for p in lm.parameters():
            if p.dim() >= 2:
                p.normal_(0, 1.0 / p.shape[-1] ** 0.5)
        # padding (3) and end of padding (0) win about half the steps, as in speech, so that
        # the words are short and many, and a word ends on every padding token
        lm.text_linear.weight[[0, 3]] *= 4.0
    save_file(
        {k: v.contiguous() for k, v in lm.state_dict().items()}, directory / "model.safetensors"
    )
    return directory


_NOT_LM_KWARGS = {
    "model_type",
    "stt_config",
    "lm_gen_config",
    "moshi_name",
    "mimi_name",
    "mimi_config_name",
    "tokenizer_name",
}
