"""Load a model and serve it: what ``kyutai-dictate engine`` runs."""

from __future__ import annotations

import asyncio
import importlib.util
import logging
import os
from dataclasses import dataclass
from pathlib import Path

from server.engine.checkpoint import load_info

log = logging.getLogger("kyutai-engine")

API_KEY_ENV = "KYUTAI_DICTATE_ENGINE_API_KEY"
DEFAULT_API_KEY = "public_token"  # moshi-server's configs authorise this id


@dataclass(frozen=True)
class EngineOptions:
    model: str = "kyutai/stt-1b-en_fr"
    checkpoint: Path | None = None
    host: str = "127.0.0.1"
    port: int = 8998
    batch_size: int = 1
    device: str = "auto"
    dtype: str | None = None


def missing_packages() -> list[str]:
    """The engine's packages (the ``[engine]`` extra) that are not installed."""
    return [name for name in ("torch", "moshi") if not _installed(name)]


def _installed(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except ImportError:
        return False


def api_keys(environ: dict[str, str] | os._Environ[str]) -> frozenset[str]:
    """The accepted keys: ``$KYUTAI_DICTATE_ENGINE_API_KEY`` (comma-separated) or the default."""
    raw = environ.get(API_KEY_ENV, "")
    keys = frozenset(k.strip() for k in raw.split(",") if k.strip())
    return keys or frozenset({DEFAULT_API_KEY})


def serve(options: EngineOptions) -> None:
    """Load the model, then serve until interrupted."""
    os.environ.setdefault("NO_TORCH_COMPILE", "1")
    from server.engine.batch import BatchModel, pick_device
    from server.engine.server import EngineServer

    device = pick_device(options.device)
    info, facts = load_info(options.model, options.checkpoint)
    log.info("loading %s on %s", facts.name, device)
    model = BatchModel(info, options.batch_size, device, options.dtype)
    server = EngineServer(model, facts, api_keys(os.environ), options.host, options.port)

    async def run() -> None:
        await server.start()
        if not await server.wait_ready():
            raise SystemExit(
                "kyutai-dictate engine: error: the model failed to warm up (see above)"
            )
        # one line that a parent process (``kyutai-dictate --local``) waits for
        print(f"engine listening on {server.url}", flush=True)
        await asyncio.Event().wait()

    asyncio.run(run())
