"""Benchmark: latency the proxy adds per frame, and its CPU and memory per stream.

Runs three processes on loopback: a stand-in backend that answers every audio frame at once
with a ``Step`` (as stt-1b-en_fr does) and every 4th frame also with a ``Word`` carrying the
frame's number and the backend's receive and send times (3.1 words a second), the proxy
(``kyutai-dictate serve``), and a load generator with N real-time streams (one 80 ms frame
every 80 ms each). The same load also runs straight against the backend; the
difference between the two is what the proxy adds. All times are CLOCK_MONOTONIC, shared by
the processes of one machine.

    uv run python -m benchmarks.proxy_latency --streams 1 64 400 --seconds 20

Prints a table and writes JSON to bench-results/proxy_latency.json. Figures, not assertions.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from websockets.asyncio.client import connect
from websockets.asyncio.server import ServerConnection, serve

from server.protocol import moshi
from server.protocol.audio import FRAME_SAMPLES, FRAME_SECONDS
from server.proxy.cli import run_event_loop

ROOT = Path(__file__).resolve().parents[1]
SEQ_SCALE = 2.0**24  # frame number n travels as sample value n / 2**24 (exact in float32)
STEP_PRS = (0.0, 0.0, 0.0, 0.0)
WORD_EVERY = 4  # a word every 4th frame: 3.1 words a second, fast speech


# -- stand-in backend ---------------------------------------------------------------------


async def echo_backend(port: int) -> None:
    """Answers every Audio frame at once with a Step and a Word "seq:recv_ns:send_ns"."""

    async def handle(ws: ServerConnection) -> None:
        await ws.send(moshi.encode(moshi.Ready()))
        step = 0
        async for data in ws:
            received = time.monotonic_ns()
            message = moshi.decode_client(data)  # type: ignore[arg-type]
            if isinstance(message, moshi.Marker):
                await ws.send(moshi.encode(message))
                continue
            if not isinstance(message, moshi.Audio):
                continue
            step += 1
            seq = round(float(message.samples()[0]) * SEQ_SCALE)
            await ws.send(moshi.encode(moshi.Step(step, STEP_PRS, 0)))
            if seq % WORD_EVERY == 0:
                text = f"{seq}:{received}:{time.monotonic_ns()}"
                await ws.send(moshi.encode(moshi.Word(text, step * FRAME_SECONDS)))

    async with serve(handle, "127.0.0.1", port, max_size=None, compression=None):
        await asyncio.Event().wait()


# -- load generator -----------------------------------------------------------------------


@dataclass
class Samples:
    # Latencies of the frames that the backend answers with a word (every WORD_EVERY-th).
    up_ms: list[float] = field(default_factory=list)  # client send -> backend receive
    down_ms: list[float] = field(default_factory=list)  # backend send -> client receive
    round_trip_ms: list[float] = field(default_factory=list)
    sent: int = 0
    answered: int = 0
    failed_streams: int = 0


async def one_stream(url: str, direct: bool, seconds: float, samples: Samples) -> None:
    frame = np.zeros(FRAME_SAMPLES, np.float32)
    sent_at: dict[int, int] = {}
    headers = {moshi.API_KEY_HEADER: "public_token"} if direct else None
    await asyncio.sleep(random.uniform(0, FRAME_SECONDS))  # spread the streams over a frame
    try:
        async with connect(url, additional_headers=headers, max_size=None, compression=None) as ws:
            await ws.recv()  # Ready / ready

            async def receive() -> None:
                async for data in ws:
                    if direct:
                        message = moshi.decode_server(data)  # type: ignore[arg-type]
                        if not isinstance(message, moshi.Word):
                            continue
                        text = message.text
                    else:
                        parsed = json.loads(data)
                        if parsed["type"] != "token":
                            continue
                        text = parsed["text"].strip()
                    now = time.monotonic_ns()
                    seq, received, replied = (int(part) for part in text.split(":"))
                    start = sent_at.pop(seq, None)
                    if start is None:
                        continue
                    samples.answered += 1
                    samples.up_ms.append((received - start) / 1e6)
                    samples.down_ms.append((now - replied) / 1e6)
                    samples.round_trip_ms.append((now - start) / 1e6)

            receiver = asyncio.create_task(receive())
            frames = int(seconds / FRAME_SECONDS)
            t0 = time.monotonic()
            for seq in range(1, frames + 1):
                frame[0] = seq / SEQ_SCALE
                payload = (
                    moshi.encode(moshi.Audio.from_samples(frame)) if direct else frame.tobytes()
                )
                if seq % WORD_EVERY == 0:
                    sent_at[seq] = time.monotonic_ns()
                    samples.sent += 1
                await ws.send(payload)
                await asyncio.sleep(max(0.0, t0 + seq * FRAME_SECONDS - time.monotonic()))
            await asyncio.sleep(1.0)  # late answers still count
            receiver.cancel()
    except Exception as exc:  # a failed stream is a figure too
        print(f"stream failed: {exc!r}", file=sys.stderr)
        samples.failed_streams += 1


async def load(url: str, direct: bool, streams: int, seconds: float) -> Samples:
    samples = Samples()
    await asyncio.gather(*(one_stream(url, direct, seconds, samples) for _ in range(streams)))
    return samples


# -- orchestration ------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def wait_port(port: int) -> None:
    for _ in range(200):
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listening on {port}")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def percentiles(values: list[float]) -> dict[str, float]:
    if not values:
        return {"p50": float("nan"), "p99": float("nan"), "max": float("nan")}
    array = np.asarray(values)
    return {
        "p50": round(float(np.percentile(array, 50)), 3),
        "p99": round(float(np.percentile(array, 99)), 3),
        "max": round(float(array.max()), 3),
    }


def summarize(samples: Samples) -> dict[str, Any]:
    return {
        "timed_frames_sent": samples.sent,
        "timed_frames_answered": samples.answered,
        "failed_streams": samples.failed_streams,
        "late_over_1s": sum(v > 1000 for v in samples.round_trip_ms),
        "up_ms": percentiles(samples.up_ms),
        "down_ms": percentiles(samples.down_ms),
        "round_trip_ms": percentiles(samples.round_trip_ms),
    }


def run_level(streams: int, seconds: float) -> dict[str, Any]:
    python = sys.executable
    backend_port, proxy_port = free_port(), free_port()
    backend = subprocess.Popen(
        [python, "-m", "benchmarks.proxy_latency", "--echo-backend", str(backend_port)], cwd=ROOT
    )
    proxy = subprocess.Popen(
        [
            python,
            "-m",
            "app",
            "serve",
            "--port",
            str(proxy_port),
            "--log-level",
            "warning",
            "--backend",
            f"ws://127.0.0.1:{backend_port}{moshi.PATH}",
            "--idle-timeout",
            "60",
        ],
        cwd=ROOT,
    )
    try:
        wait_port(backend_port)
        wait_port(proxy_port)
        direct = run_event_loop(
            load(f"ws://127.0.0.1:{backend_port}{moshi.PATH}", True, streams, seconds)
        )
        rss_before = rss_mib(proxy.pid)
        pids = {"proxy": proxy.pid, "backend": backend.pid, "load": os.getpid()}
        cpu_before = {name: cpu_seconds(pid) for name, pid in pids.items()}
        wall_before = time.monotonic()
        via = run_event_loop(
            load(f"ws://127.0.0.1:{proxy_port}/v1/stream", False, streams, seconds)
        )
        wall = time.monotonic() - wall_before
        cpu = {name: (cpu_seconds(pid) - cpu_before[name]) / wall for name, pid in pids.items()}
        rss_after = rss_mib(proxy.pid)
    finally:
        for process in (proxy, backend):
            process.terminate()
            process.wait(timeout=30)
    via_summary, direct_summary = summarize(via), summarize(direct)
    return {
        "streams": streams,
        "seconds": seconds,
        "via_proxy": via_summary,
        "direct": direct_summary,
        "added_ms": {
            f"{key}_{q}": round(via_summary[key][q] - direct_summary[key][q], 3)
            for key in ("up_ms", "round_trip_ms")
            for q in ("p50", "p99")
        },
        "cpu_cores": {name: round(value, 3) for name, value in cpu.items()},
        "proxy_rss_mib": round(rss_after, 1),
        "proxy_rss_per_stream_kib": round((rss_after - rss_before) * 1024 / streams, 1),
    }


def print_table(results: list[dict[str, Any]]) -> None:
    head = (
        f"{'streams':>7} | {'via proxy up p50/p99':>21} | {'down p50/p99':>13} | "
        f"{'round trip p50/p99':>19} | {'direct rt p50/p99':>18} | {'added rt p99':>12} | "
        f"{'unanswered':>10} | {'CPU proxy/backend/load':>22} | {'RSS':>7}"
    )
    print(head)
    print("-" * len(head))
    for r in results:
        via, direct = r["via_proxy"], r["direct"]
        up, down, rt = via["up_ms"], via["down_ms"], via["round_trip_ms"]
        drt, cpu = direct["round_trip_ms"], r["cpu_cores"]
        unanswered = via["timed_frames_sent"] - via["timed_frames_answered"]
        print(
            f"{r['streams']:>7} | {up['p50']:>9.2f} / {up['p99']:>9.2f} | "
            f"{down['p50']:>5.2f} / {down['p99']:>5.2f} | {rt['p50']:>8.2f} / {rt['p99']:>8.2f} | "
            f"{drt['p50']:>7.2f} / {drt['p99']:>8.2f} | {rt['p99'] - drt['p99']:>9.2f} ms | "
            f"{unanswered:>10} | "
            f"{cpu['proxy']:>6.2f} / {cpu['backend']:>5.2f} / {cpu['load']:>5.2f} | "
            f"{r['proxy_rss_mib']:>5.0f} M"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--streams", type=int, nargs="+", default=[1, 64, 400])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--out", type=Path, default=ROOT / "bench-results" / "proxy_latency.json")
    parser.add_argument("--echo-backend", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.echo_backend:
        run_event_loop(echo_backend(args.echo_backend))
        return
    results = [run_level(n, args.seconds) for n in args.streams]
    print_table(results)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    machine = {"cpus": os.cpu_count(), "python": sys.version.split()[0]}
    args.out.write_text(json.dumps({"machine": machine, "results": results}, indent=2) + "\n")
    print(f"\nwritten to {args.out}")


if __name__ == "__main__":
    main()
