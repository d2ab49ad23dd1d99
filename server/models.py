"""The Kyutai STT models this project serves: what clients rely on, and what the server needs.

One record per model holds every fact, so the proxy's behaviour and the moshi-server
configuration (:mod:`server.deploy.stt_config`) cannot disagree.
"""

from __future__ import annotations

from dataclasses import dataclass

# One model step is one audio frame: 1920 samples at 24 kHz (the same figure as
# server.protocol.audio.FRAME_SECONDS, which builds on these facts rather than the other way).
STEP_SECONDS = 1920 / 24_000


@dataclass(frozen=True)
class Architecture:
    """The transformer's shape, as moshi-server's ``[modules.asr.model]`` wants it."""

    text_in_vocab_size: int
    text_out_vocab_size: int
    audio_codebooks: int
    num_layers: int
    num_heads: int
    context: int
    extra_heads: tuple[int, int] | None  # (num_heads, dim) of the pause-prediction heads
    d_model: int = 2048
    dim_feedforward: int = 8192
    audio_vocab_size: int = 2049


@dataclass(frozen=True)
class ModelProfile:
    """A Kyutai STT model: how clients talk to it and how moshi-server loads it."""

    name: str
    repo: str
    candle_repo: str  # the weights moshi-server loads (hf://<candle_repo>/...)
    text_tokenizer: str
    delay_frames: int  # asr_delay_in_tokens: 80 ms steps between audio and its words
    silence_prefix_seconds: float  # silence sent before the client's audio
    default_batch_size: int  # streams per GPU that Kyutai's configs use
    architecture: Architecture

    @property
    def has_vad(self) -> bool:
        """Extra heads: Step messages carry pause probabilities (semantic VAD)."""
        return self.architecture.extra_heads is not None

    @property
    def delay_seconds(self) -> float:
        return self.delay_frames * STEP_SECONDS

    @property
    def flush_frames(self) -> int:
        """Silence frames sent at once on flush: enough to cover the model delay."""
        return self.delay_frames + 2


STT_1B = ModelProfile(
    name="stt-1b-en_fr",
    repo="kyutai/stt-1b-en_fr",
    candle_repo="kyutai/stt-1b-en_fr-candle",
    text_tokenizer="tokenizer_en_fr_audio_8000.model",
    delay_frames=6,
    silence_prefix_seconds=0.0,
    default_batch_size=64,
    architecture=Architecture(
        text_in_vocab_size=8001,
        text_out_vocab_size=8000,
        audio_codebooks=32,
        num_layers=16,
        num_heads=16,
        context=750,
        extra_heads=(4, 6),
    ),
)
STT_2_6B = ModelProfile(
    name="stt-2.6b-en",
    repo="kyutai/stt-2.6b-en",
    candle_repo="kyutai/stt-2.6b-en-candle",
    text_tokenizer="tokenizer_en_audio_4000.model",
    delay_frames=32,
    silence_prefix_seconds=1.0,
    default_batch_size=16,
    architecture=Architecture(
        text_in_vocab_size=4001,
        text_out_vocab_size=4000,
        audio_codebooks=32,
        num_layers=48,
        num_heads=32,
        context=375,
        extra_heads=None,
    ),
)
MODELS = {m.name: m for m in (STT_1B, STT_2_6B)}


def model_profile(name: str) -> ModelProfile:
    """Look a model up by short name (``stt-1b-en_fr``) or repo (``kyutai/stt-1b-en_fr``)."""
    short = name.removeprefix("kyutai/")
    if short not in MODELS:
        raise ValueError(f"unknown model {name!r}; choose one of {', '.join(MODELS)}")
    return MODELS[short]


# CUDA compute capability per GPU type a Modal deploy offers: candle's kernels are compiled for
# it when the image is built (on a machine without a GPU), and below 80 the model runs in f32.
GPU_COMPUTE_CAPABILITY = {
    "T4": 75,
    "L4": 89,
    "A10G": 86,
    "L40S": 89,
    "A100": 80,
    "A100-40GB": 80,
    "A100-80GB": 80,
    "H100": 90,
    "H200": 90,
}
DEFAULT_GPU = "L40S"
DEFAULT_STREAMS_PER_GPU = 8  # moshi-server's batch size: streams one GPU serves at once
