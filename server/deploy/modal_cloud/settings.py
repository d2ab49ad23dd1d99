"""What a Modal deployment is made of, read from the environment at deploy time (one place)."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass

from server.models import (
    DEFAULT_GPU,
    DEFAULT_STREAMS_PER_GPU,
    GPU_COMPUTE_CAPABILITY,
    STT_1B,
    ModelProfile,
    model_profile,
)

MOSHI_SERVER_VERSION = "0.6.4"
DEFAULT_APP_NAME = "kyutai-dictate"

# The GPU types a Modal deploy offers (server.models: the UI lists them too).
COMPUTE_CAPABILITY = GPU_COMPUTE_CAPABILITY


@dataclass(frozen=True)
class ModalSettings:
    gpu: str = DEFAULT_GPU
    batch_size: int = DEFAULT_STREAMS_PER_GPU
    model: ModelProfile = STT_1B
    app_name: str = DEFAULT_APP_NAME

    @property
    def compute_capability(self) -> int:
        return COMPUTE_CAPABILITY[self.gpu]

    def to_env(self) -> dict[str, str]:
        """The variables :meth:`from_env` reads back to these settings."""
        return {
            "KYUTAI_GPU": self.gpu,
            "BATCH_SIZE": str(self.batch_size),
            "MODEL_NAME": self.model.repo,
            "KYUTAI_DICTATE_APP_NAME": self.app_name,
        }

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> ModalSettings:
        """``KYUTAI_GPU``, ``BATCH_SIZE``, ``MODEL_NAME``, ``KYUTAI_DICTATE_APP_NAME``."""
        env = os.environ if env is None else env
        gpu = env.get("KYUTAI_GPU", "") or cls.gpu
        known = {name.upper(): name for name in COMPUTE_CAPABILITY}
        if gpu.upper() not in known:
            raise ValueError(f"KYUTAI_GPU={gpu!r} is not one of {', '.join(COMPUTE_CAPABILITY)}")
        raw_batch = env.get("BATCH_SIZE", "") or str(cls.batch_size)
        if not raw_batch.isdigit() or int(raw_batch) < 1:
            raise ValueError(f"BATCH_SIZE={raw_batch!r} is not a positive whole number")
        app_name = env.get("KYUTAI_DICTATE_APP_NAME", "") or DEFAULT_APP_NAME
        if not re.fullmatch(r"[a-z0-9][a-z0-9-]{0,62}", app_name):
            raise ValueError(
                f"KYUTAI_DICTATE_APP_NAME={app_name!r}: use lower-case letters, digits and "
                "dashes (it becomes the URL label), at most 63 characters"
            )
        return cls(
            gpu=known[gpu.upper()],
            batch_size=int(raw_batch),
            model=model_profile(env.get("MODEL_NAME", "") or cls.model.repo),
            app_name=app_name,
        )


def app_name_for_gpu(gpu: str) -> str:
    """The app name used when several GPUs are compared side by side."""
    return f"{DEFAULT_APP_NAME}-{gpu.lower()}"
