"""``kyutai-dictate serve``: run the proxy until SIGINT or SIGTERM, then drain streams."""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import signal
import sys
from collections.abc import Coroutine
from dataclasses import replace
from typing import Any, TypeVar

from server.logs import setup_logging
from server.proxy import config as proxy_config
from server.proxy.backend import BackendFailure
from server.proxy.server import ProxyServer

_T = TypeVar("_T")
STALLED_EXIT = 3  # the backend's model loop stopped (see server.proxy.health)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``serve`` flags to ``parser``."""
    proxy_config.add_arguments(parser)


def run(args: argparse.Namespace) -> int:
    """Run the proxy with the parsed flags; returns the process exit code."""
    setup_logging(getattr(args, "log_level", None) or "info")
    try:
        config = proxy_config.from_arguments(args)
    except ValueError as exc:
        print(f"kyutai-dictate serve: {exc}", file=sys.stderr)
        return 2
    if config.workers > 1:
        return run_workers(config)
    return run_one(config)


def run_one(config: proxy_config.ProxyConfig) -> int:
    """One proxy process; the exit code."""
    try:
        return run_event_loop(_serve(config))
    except BackendFailure as exc:
        print(f"kyutai-dictate serve: {exc.message}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(
            f"kyutai-dictate serve: cannot listen on {config.host}:{config.port}: {exc.strerror}",
            file=sys.stderr,
        )
        return 1


def run_workers(config: proxy_config.ProxyConfig) -> int:
    """``--workers N``: N proxy processes on one port (SO_REUSEPORT: the kernel spreads the
    connections over them). SIGTERM and SIGINT are passed on; each worker drains its own
    streams. The exit code is the first non-zero one of a worker (3: the backend stalled),
    which also stops the others, so that the service manager restarts the lot."""
    worker_config = replace(config, workers=1, reuse_port=True)
    context = multiprocessing.get_context("fork")  # before any event loop exists
    workers = [
        context.Process(target=_worker, args=(worker_config,), name=f"proxy-worker-{n}")
        for n in range(config.workers)
    ]
    for worker in workers:
        worker.start()

    def pass_on(signum: int, _frame: object) -> None:
        for worker in workers:
            if worker.pid is not None and worker.exitcode is None:
                os.kill(worker.pid, signum)

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, pass_on)
    status = 0
    running = list(workers)
    while running:
        for worker in list(running):
            worker.join(timeout=0.2)
            if worker.exitcode is None:
                continue
            running.remove(worker)
            if worker.exitcode != 0 and status == 0:
                status = worker.exitcode if worker.exitcode > 0 else 1
                pass_on(signal.SIGTERM, None)
    return status


def _worker(config: proxy_config.ProxyConfig) -> None:
    sys.exit(run_one(config))


def run_event_loop(main: Coroutine[Any, Any, _T]) -> _T:
    """Run ``main`` on uvloop where it exists (libuv's socket writes cost a fraction of
    asyncio's, and the proxy spends most of its time writing), else on asyncio's loop."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(main)
    return uvloop.run(main)


async def _serve(config: proxy_config.ProxyConfig) -> int:
    """Serve until a signal (exit status 0) or, with ``exit_when_stalled``, until the backend
    has stalled (status 3: the service manager restarts moshi-server and the proxy)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    server = ProxyServer(config)
    starting = asyncio.create_task(server.start())  # with --wait-backend, waits for the model
    stopping = asyncio.create_task(stop.wait())
    await asyncio.wait({starting, stopping}, return_when=asyncio.FIRST_COMPLETED)
    if not starting.done():  # stopped while waiting for the backend
        starting.cancel()
        return 0
    starting.result()  # BackendFailure or OSError from start-up
    stalled = asyncio.create_task(server.stalled.wait())
    try:
        await asyncio.wait({stopping, stalled}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopping.cancel()
        stalled.cancel()
        await server.shutdown()
    if server.stalled.is_set() and not stop.is_set():
        print("kyutai-dictate serve: the backend has stalled; exiting", file=sys.stderr)
        return STALLED_EXIT
    return 0
