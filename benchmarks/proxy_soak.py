"""Soak: many short sessions through the proxy and the moshi-server double, with the proxy's
memory and open file descriptors recorded as they go. Flat curves mean no leak.

    uv run python -m benchmarks.proxy_soak --sessions 300 --concurrency 8

The proxy runs as ``kyutai-dictate serve`` (``--transport`` picks its WebSocket library); the
double (tests/support/moshi_double.py) runs its model loop fast. Each session streams half a
second of audio, sends ``end`` and waits for the proxy's ``end``. Writes JSON to
bench-results/proxy_soak.json. Figures, not assertions.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.proxy_latency import free_port, start_proxy, wait_port
from server.protocol.audio import FRAME_SAMPLES
from server.proxy.channel import Transport
from tests.support.clients import stream_audio
from tests.support.moshi_double import DoubleConfig, MoshiDouble
from tests.support.proc import open_fds, rss_mib
from tests.support.speech import SENTENCES

ROOT = Path(__file__).resolve().parents[1]
AUDIO = np.zeros(FRAME_SAMPLES * 6, np.float32)  # about half a second


async def soak(sessions: int, concurrency: int, every: int, transport: str) -> dict[str, Any]:
    # Twice the slots: the double, like moshi-server, frees a closed session's slot only at
    # its next model step, and a new session may come first.
    config = DoubleConfig(list(SENTENCES), slots=2 * concurrency, step_seconds=0.01)
    async with MoshiDouble(config) as double:
        port = free_port()
        proxy = start_proxy(double.port, port, transport)
        try:
            await asyncio.to_thread(wait_port, port)
            url = f"ws://127.0.0.1:{port}/v1/stream"
            samples: list[dict[str, float]] = []
            done = failed = 0
            reasons: Counter[str] = Counter()
            started = time.monotonic()
            queue = iter(range(sessions))

            def sample() -> None:
                samples.append(
                    {
                        "sessions": done,
                        "seconds": round(time.monotonic() - started, 2),
                        "rss_mib": round(rss_mib(proxy.pid), 2),
                        "fds": open_fds(proxy.pid),
                    }
                )

            sample()

            async def worker() -> None:
                nonlocal done, failed
                for _ in queue:
                    try:
                        result = await stream_audio(url, AUDIO, speed=50.0, timeout=30)
                        if "end" not in result.types:
                            failed += 1
                            reasons[",".join(result.errors()) or "no end"] += 1
                    except Exception as exc:
                        failed += 1
                        reasons[type(exc).__name__] += 1
                    done += 1
                    if done % every == 0:
                        sample()

            await asyncio.gather(*(worker() for _ in range(concurrency)))
            await asyncio.sleep(1.0)  # let closing connections go
            sample()
        finally:
            proxy.terminate()
            proxy.wait(timeout=30)
    return {
        "transport": transport,
        "sessions": sessions,
        "concurrency": concurrency,
        "failed": failed,
        "failures": dict(reasons),
        "seconds": round(time.monotonic() - started, 1),
        "samples": samples,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sessions", type=int, default=300)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--every", type=int, default=25, help="sample every this many sessions")
    parser.add_argument("--transport", choices=[t.value for t in Transport], default="picows")
    parser.add_argument("--out", type=Path, default=ROOT / "bench-results" / "proxy_soak.json")
    args = parser.parse_args()
    result = asyncio.run(soak(args.sessions, args.concurrency, args.every, args.transport))
    first, last = result["samples"][0], result["samples"][-1]
    print(
        f"{result['sessions']} sessions ({result['failed']} failed) in {result['seconds']} s: "
        f"RSS {first['rss_mib']} -> {last['rss_mib']} MiB, fds {first['fds']} -> {last['fds']}"
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"written to {args.out}")


if __name__ == "__main__":
    main()
