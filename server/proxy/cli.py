"""``kyutai-dictate serve``: run the proxy until SIGINT or SIGTERM, then drain streams."""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys

from server.logs import setup_logging
from server.proxy import config as proxy_config
from server.proxy.server import ProxyServer


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``serve`` flags to ``parser``; a service logs at info level unless told otherwise."""
    proxy_config.add_arguments(parser)
    parser.set_defaults(log_level="info")


def run(args: argparse.Namespace) -> int:
    """Run the proxy with the parsed flags; returns the process exit code."""
    setup_logging(getattr(args, "log_level", None) or "info")
    try:
        config = proxy_config.from_arguments(args)
    except ValueError as exc:
        print(f"kyutai-dictate serve: {exc}", file=sys.stderr)
        return 2
    try:
        asyncio.run(_serve(config))
    except OSError as exc:
        print(
            f"kyutai-dictate serve: cannot listen on {config.host}:{config.port}: {exc.strerror}",
            file=sys.stderr,
        )
        return 1
    return 0


async def _serve(config: proxy_config.ProxyConfig) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with ProxyServer(config):
        await stop.wait()
