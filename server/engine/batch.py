"""The model, one batch step at a time: Mimi encodes each slot's frame, the LM predicts each
slot's text token, and the extra heads its pause probabilities.

Follows kyutai-labs/moshi ``rust/moshi-core/src/asr.rs`` ``State``: only the slots in the
step's mask advance (``set_exec_mask``), a slot is reset alone (``reset_batch_idx``), the
LM sees each slot's audio codes one step late (``ItemState::next_token``, padding on a slot's
first step) and its own previous text token, and the text token is the argmax (temperature
0). Built on ``moshi.models.lm.LMGen`` with ``support_out_of_sync``, so slots at different
offsets share one batch.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import numpy as np

from server.protocol.audio import FRAME_SAMPLES


@dataclass(frozen=True)
class StepResult:
    """One step's output per slot (inactive slots: token -1, no pause probabilities)."""

    tokens: list[int]
    prs: list[list[float]]  # per slot: softmax(head)[0] for each extra head
    logits: Any  # float32 numpy array [batch, text_card]: the text logits


def pick_device(device: str) -> str:
    """``auto``: CUDA when torch sees a GPU, else the CPU."""
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise ValueError("--device cuda: torch sees no CUDA GPU (a CPU-only torch build?)")
    return device


def pick_dtype(dtype: str | None, device: str) -> Any:
    """bfloat16 on a GPU, float32 on the CPU, unless told."""
    import torch

    if dtype is None:
        return torch.bfloat16 if device == "cuda" else torch.float32
    return {"bfloat16": torch.bfloat16, "float32": torch.float32}[dtype]


class BatchModel:
    """Mimi and the LM in streaming mode for ``batch_size`` slots."""

    def __init__(
        self, info: Any, batch_size: int, device: str = "cpu", dtype: str | None = None
    ) -> None:
        os.environ.setdefault("NO_CUDA_GRAPH", "1" if device == "cpu" else "0")
        import torch
        from moshi.models.lm import LMGen

        self._torch = torch
        self.batch_size = batch_size
        self.device = device
        self.mimi = info.get_mimi(device)
        self.lm = info.get_moshi(device, dtype=pick_dtype(dtype, device))
        self.tokenizer = info.get_text_tokenizer()
        self._logits: Any = None

        def keep_logits(logits: Any) -> None:
            self._logits = logits

        self.lm_gen = LMGen(
            self.lm,
            use_sampling=False,
            temp=0.0,
            temp_text=0.0,
            support_out_of_sync=True,
            on_text_logits_hook=keep_logits,
        )
        self.mimi.streaming_forever(batch_size)
        self.lm_gen.streaming_forever(batch_size)
        self.n_q = self.lm.n_q
        self._late_codes = torch.zeros((batch_size, self.n_q, 1), dtype=torch.long, device=device)
        self.has_extra_heads = len(self.lm.extra_heads) > 0

    def decode(self, tokens: list[int]) -> str:
        text: str = self.tokenizer.decode(tokens)
        return text

    def reset(self, slots: list[int]) -> None:
        """Start these slots afresh (``Init``); the others keep their state."""
        if not slots:
            return
        torch = self._torch
        mask = torch.zeros(self.batch_size, dtype=torch.bool, device=self.device)
        mask[slots] = True
        self.mimi.reset_streaming(mask)
        self.lm_gen.reset_streaming(mask)

    def step(self, pcm: np.ndarray, active: list[bool]) -> StepResult:
        """One step: ``pcm`` is [batch, 1920] float32; only ``active`` slots advance."""
        torch = self._torch
        assert pcm.shape == (self.batch_size, FRAME_SAMPLES)
        with torch.no_grad():
            mask = torch.tensor(active, dtype=torch.bool, device=self.device)
            self.mimi.set_exec_mask(mask)
            self.lm_gen.set_exec_mask(mask)
            audio = torch.from_numpy(np.ascontiguousarray(pcm, dtype=np.float32))
            codes = self.mimi.encode(audio.to(self.device)[:, None, :])[:, : self.n_q]
            late = self._late_codes
            self._late_codes = torch.where(mask[:, None, None], codes, late)
            out = self.lm_gen.step_with_extra_heads(late)
            assert out is not None  # support_out_of_sync: every step answers
            tokens_t, heads = out
            tokens = tokens_t[:, 0, 0].tolist()
            prs: list[list[float]] = [[] for _ in range(self.batch_size)]
            if heads:
                first = torch.stack([h[:, 0, 0].float() for h in heads], dim=1).cpu().tolist()
                prs = first
            logits = self._logits[:, 0, 0].float().cpu().numpy()
        return StepResult(
            [t if a else -1 for t, a in zip(tokens, active, strict=True)],
            [p if a else [] for p, a in zip(prs, active, strict=True)],
            logits,
        )
