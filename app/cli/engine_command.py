"""``kyutai-dictate engine``: Kyutai's model on this computer, behind moshi-server's protocol
(:mod:`server.engine`; needs the ``[engine]`` extra: torch and moshi)."""

from __future__ import annotations

import argparse
from pathlib import Path

from app.cli.options import positive_int
from app.core.errors import UsageError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--model",
        choices=("kyutai/stt-1b-en_fr", "kyutai/stt-2.6b-en"),
        default="kyutai/stt-1b-en_fr",
        help="the Hugging Face repo to load (default kyutai/stt-1b-en_fr)",
    )
    parser.add_argument(
        "--checkpoint",
        type=Path,
        help="a local checkpoint directory (config.json, weights, tokenizer) instead of the hub",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=8998, help="port (default 8998)")
    parser.add_argument(
        "--batch-size", type=positive_int, default=1, help="concurrent streams (default 1)"
    )
    parser.add_argument("--device", choices=("auto", "cuda", "cpu"), default="auto")
    parser.add_argument(
        "--dtype", choices=("bfloat16", "float32"), help="default: bfloat16 on a GPU, else float32"
    )


def run(args: argparse.Namespace) -> int:
    from server.engine.checkpoint import CheckpointError
    from server.engine.run import EngineOptions, missing_packages, serve

    missing = missing_packages()
    if missing:
        raise UsageError(
            f"the engine needs {' and '.join(missing)}: see the README's 'A local engine'"
        )
    options = EngineOptions(
        args.model, args.checkpoint, args.host, args.port, args.batch_size, args.device, args.dtype
    )
    try:
        serve(options)
    except (CheckpointError, ValueError) as exc:
        raise UsageError(str(exc)) from None
    return 0
