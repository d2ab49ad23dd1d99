"""Where the engine's model comes from: the Hugging Face hub or a local directory.

A directory holds what ``moshi.models.loaders.CheckpointInfo.from_hf_repo`` reads from a
repo (``config.json`` naming the LM and Mimi weights and the tokenizer, and optionally a
``mimi_config_name``); the files are passed to it as local paths, so nothing is downloaded.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from server.models import STEP_SECONDS, model_profile


class CheckpointError(ValueError):
    """A checkpoint that cannot be loaded, with what is wrong in words."""


@dataclass(frozen=True)
class EngineFacts:
    """What the server needs to know of the loaded model."""

    name: str
    delay_frames: int  # asr_delay_in_tokens
    lm_file: str  # reported by /api/modules_info
    mimi_file: str


def load_info(model: str, checkpoint: Path | None) -> tuple[Any, EngineFacts]:
    """The moshi ``CheckpointInfo`` and the facts, from ``checkpoint`` or the hub repo."""
    from moshi.models import loaders

    profile = model_profile(model)
    if checkpoint is None:
        info = loaders.CheckpointInfo.from_hf_repo(profile.repo)
        return info, EngineFacts(
            profile.name, profile.delay_frames, str(info.moshi_weights), str(info.mimi_weights)
        )
    config_path = checkpoint / "config.json"
    if not config_path.is_file():
        raise CheckpointError(f"{checkpoint}: no config.json (is it a Kyutai STT checkpoint?)")
    try:
        raw = json.loads(config_path.read_text())
    except json.JSONDecodeError as exc:
        raise CheckpointError(f"{config_path}: not JSON ({exc})") from None
    files = {
        "moshi_weights": raw.get("moshi_name", loaders.MOSHI_NAME),
        "mimi_weights": raw.get("mimi_name", loaders.MIMI_NAME),
        "tokenizer": raw.get("tokenizer_name", loaders.TEXT_TOKENIZER_NAME),
    }
    if raw.get("mimi_config_name"):
        files["mimi_config_path"] = raw["mimi_config_name"]
    paths = {key: checkpoint / name for key, name in files.items()}
    missing = [str(p.name) for p in paths.values() if not p.is_file()]
    if missing:
        raise CheckpointError(f"{checkpoint}: missing {', '.join(missing)}")
    info = loaders.CheckpointInfo.from_hf_repo(str(checkpoint), config_path=config_path, **paths)
    delay = raw.get("stt_config", {}).get("audio_delay_seconds")
    delay_frames = profile.delay_frames if delay is None else round(delay / STEP_SECONDS)
    facts = EngineFacts(
        checkpoint.name, delay_frames, str(info.moshi_weights), str(info.mimi_weights)
    )
    return info, facts
