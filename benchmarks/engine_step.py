"""Benchmark: the local engine's model step for the full-size stt-1b-en_fr architecture.

Random weights with the real shapes (server.models.STT_1B: the LM with dim 2048, 16 layers,
16 heads, 32 codebooks, 4 extra heads; the standard Mimi with 32 codebooks), so the compute is
that of the real model and nothing is downloaded. For each batch size and dtype: the time of
one step (Mimi encode + LM step for every slot; one step is 80 ms of audio per stream), the
real-time factor (step time / 80 ms), how many streams it serves in real time, and the
process's peak memory. Figures, not assertions.

    uv run python -m benchmarks.engine_step --batch 1 4 --dtype float32 bfloat16 --steps 20

Needs torch and moshi (tests/run installs them). On a GPU: ``--device cuda``.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import resource
import time
from pathlib import Path
from typing import Any

import numpy as np

from server.models import STEP_SECONDS, STT_1B
from server.protocol.audio import FRAME_SAMPLES


def lm_config() -> dict[str, Any]:
    """stt-1b-en_fr's LM configuration (the facts of server.models.STT_1B)."""
    arch = STT_1B.architecture
    heads = arch.extra_heads or (0, 6)
    return {
        "dim": arch.d_model,
        "text_card": arch.text_out_vocab_size,
        "existing_text_padding_id": 3,
        "n_q": arch.audio_codebooks,
        "dep_q": 0,
        "card": arch.audio_vocab_size - 1,
        "num_heads": arch.num_heads,
        "num_layers": arch.num_layers,
        "hidden_scale": 4.125,
        "causal": True,
        "layer_scale": None,
        "context": arch.context,
        "max_period": 10000,
        "gating": "silu",
        "norm": "rms_norm_f32",
        "positional_embedding": "rope",
        "depformer_dim": 1024,
        "depformer_num_heads": 16,
        "depformer_num_layers": 1,
        "depformer_dim_feedforward": 1024,
        "depformer_multi_linear": True,
        "depformer_pos_emb": "none",
        "depformer_weights_per_step": True,
        "delays": [0] * (arch.audio_codebooks + 1),
        "extra_heads_num_heads": heads[0],
        "extra_heads_dim": heads[1],
        "conditioners": {},
        "fuser": None,
    }


class _RandomCheckpoint:
    """What BatchModel asks of a moshi CheckpointInfo, with random weights."""

    def get_mimi(self, device: str) -> Any:
        from moshi.models import loaders

        return loaders.get_mimi(
            None, device=device, num_codebooks=STT_1B.architecture.audio_codebooks
        )

    def get_moshi(self, device: str, dtype: Any) -> Any:
        from moshi.models import loaders

        return loaders.get_moshi_lm(None, lm_kwargs=lm_config(), device=device, dtype=dtype)

    def get_text_tokenizer(self) -> Any:
        return None


def measure(batch: int, dtype: str, steps: int, device: str) -> dict[str, Any]:
    import torch

    from server.engine.batch import BatchModel

    model = BatchModel(_RandomCheckpoint(), batch, device, dtype)
    rng = np.random.default_rng(0)
    pcm = rng.normal(0, 0.1, (batch, FRAME_SAMPLES)).astype(np.float32)
    active = [True] * batch
    for _ in range(3):  # warm-up
        model.step(pcm, active)
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        model.step(pcm, active)
        if device == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    audio = torch.from_numpy(pcm)[:, None, :].to(device)
    mimi_times = []
    with torch.no_grad():
        for _ in range(max(3, steps // 2)):  # Mimi's share of a step: its encoder alone
            start = time.perf_counter()
            model.mimi.encode(audio)
            if device == "cuda":
                torch.cuda.synchronize()
            mimi_times.append(time.perf_counter() - start)
    step = float(np.median(times))
    rtf = step / STEP_SECONDS
    result = {
        "batch": batch,
        "dtype": dtype,
        "device": device,
        "threads": torch.get_num_threads(),
        "step_ms_median": round(step * 1000, 1),
        "step_ms_p90": round(float(np.percentile(times, 90)) * 1000, 1),
        "mimi_ms_median": round(float(np.median(mimi_times)) * 1000, 1),
        "real_time_factor": round(rtf, 2),
        "streams_in_real_time": batch if rtf <= 1 else 0,
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }
    if device == "cuda":
        result["peak_gpu_mib"] = round(torch.cuda.max_memory_allocated() / 2**20)
    del model
    gc.collect()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batch", type=int, nargs="+", default=[1, 4])
    parser.add_argument("--dtype", nargs="+", default=["float32", "bfloat16"])
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--out", type=Path, help="also write the rows as JSON (benchmarks.report)")
    args = parser.parse_args()
    os.environ.setdefault("NO_TORCH_COMPILE", "1")
    rows = []
    for dtype in args.dtype:
        for batch in args.batch:
            rows.append(measure(batch, dtype, args.steps, args.device))
            print(json.dumps(rows[-1]), flush=True)
    if args.out is not None:
        notes = (
            "Random weights with stt-1b-en_fr's shapes; one step is 80 ms of audio per stream, "
            "so a real-time factor above 1 serves no stream in real time on this machine."
        )
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps({"rows": rows, "notes": notes}, indent=1))


if __name__ == "__main__":
    main()
