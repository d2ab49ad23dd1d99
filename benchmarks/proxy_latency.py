"""Benchmark: latency the proxy adds per frame, and its CPU and memory per stream.

Runs three processes on loopback: a stand-in backend that answers every audio frame at once
with a ``Step`` (as stt-1b-en_fr does) and every 4th frame also with a ``Word`` carrying the
frame's number and the backend's receive and send times (3.1 words a second), the proxy
(``kyutai-dictate serve``), and a load generator with N real-time streams (one 80 ms frame
every 80 ms each). The same load also runs straight against the backend; the
difference between the two is what the proxy adds. All times are CLOCK_MONOTONIC, shared by
the processes of one machine.

    uv run python -m benchmarks.proxy_latency --streams 1 64 200 400 --seconds 20

Each level runs the proxy on every ``--transports`` library (picows and websockets by
default) under the same load, one after the other, so before and after share a machine and
a run. CPU per stream-second is the proxy's CPU time divided by streams x seconds.

Prints a table and writes JSON to bench-results/proxy_latency.json. Figures, not assertions.
"""

from __future__ import annotations

import argparse
import asyncio
import heapq
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
from picows import (
    WSCloseCode,
    WSFrame,
    WSListener,
    WSMsgType,
    WSTransport,
    ws_connect,
    ws_create_server,
)

from server.protocol import moshi
from server.protocol.audio import FRAME_SAMPLES, FRAME_SECONDS
from server.proxy.channel import Transport
from server.proxy.cli import run_event_loop
from tests.support.proc import cpu_seconds, rss_mib

ROOT = Path(__file__).resolve().parents[1]
SEQ_SCALE = 2.0**24  # frame number n travels as sample value n / 2**24 (exact in float32)
STEP_PRS = (0.0, 0.0, 0.0, 0.0)
WORD_EVERY = 4  # a word every 4th frame: 3.1 words a second, fast speech


# -- stand-in backend ---------------------------------------------------------------------
# The backend and the load generator run on picows, whichever transport the proxy uses: the
# lighter they are, the more of the two cores is left to the proxy, and the same harness
# measures both transports.


class _EchoBackend(WSListener):
    """Answers every Audio frame at once with a Step and a Word "seq:recv_ns:send_ns"."""

    def __init__(self) -> None:
        super().__init__()
        self.step = 0

    def on_ws_connected(self, transport: WSTransport) -> None:
        transport.send(WSMsgType.BINARY, moshi.encode(moshi.Ready()))

    def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
        if frame.msg_type is WSMsgType.CLOSE:
            transport.send_close(frame.get_close_code())
            transport.disconnect()
            return
        if frame.msg_type is not WSMsgType.BINARY:
            return
        received = time.monotonic_ns()
        message = moshi.decode_client(frame.get_payload_as_bytes())
        if isinstance(message, moshi.Marker):
            transport.send(WSMsgType.BINARY, moshi.encode(message))
            return
        if not isinstance(message, moshi.Audio):
            return
        self.step += 1
        seq = round(float(message.samples()[0]) * SEQ_SCALE)
        transport.send(WSMsgType.BINARY, moshi.encode(moshi.Step(self.step, STEP_PRS, 0)))
        if seq % WORD_EVERY == 0:
            text = f"{seq}:{received}:{time.monotonic_ns()}"
            word = moshi.encode(moshi.Word(text, self.step * FRAME_SECONDS))
            transport.send(WSMsgType.BINARY, word)


async def echo_backend(port: int) -> None:
    await ws_create_server(lambda _request: _EchoBackend(), "127.0.0.1", port)
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


class _LoadStream(WSListener):
    """One client stream: records the latency of every word that comes back."""

    def __init__(self, direct: bool, samples: Samples) -> None:
        super().__init__()
        self.direct = direct
        self.samples = samples
        self.sent_at: dict[int, int] = {}
        self.ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
        if frame.msg_type is WSMsgType.CLOSE:
            transport.disconnect()
            return
        now = time.monotonic_ns()
        if self.direct:
            message = moshi.decode_server(frame.get_payload_as_bytes())
            if isinstance(message, moshi.Ready):
                self.ready.set_result(None)
            if not isinstance(message, moshi.Word):
                return
            text = message.text
        else:
            parsed = json.loads(frame.get_payload_as_utf8_text())
            if parsed["type"] == "ready":
                self.ready.set_result(None)
            if parsed["type"] != "token":
                return
            text = parsed["text"].strip()
        seq, received, replied = (int(part) for part in text.split(":"))
        start = self.sent_at.pop(seq, None)
        if start is None:
            return
        self.samples.answered += 1
        self.samples.up_ms.append((received - start) / 1e6)
        self.samples.down_ms.append((now - replied) / 1e6)
        self.samples.round_trip_ms.append((now - start) / 1e6)

    def on_ws_disconnected(self, transport: WSTransport) -> None:
        if not self.ready.done():
            self.ready.set_exception(ConnectionError("closed before ready"))


async def _open(url: str, direct: bool, samples: Samples) -> tuple[WSTransport, _LoadStream]:
    headers = {moshi.API_KEY_HEADER: "public_token"} if direct else None
    transport, listener = await ws_connect(
        lambda: _LoadStream(direct, samples), url, extra_headers=headers, max_frame_size=1 << 24
    )
    assert isinstance(listener, _LoadStream)
    await asyncio.wait_for(listener.ready, 30)
    return transport, listener


async def load(url: str, direct: bool, streams: int, seconds: float) -> Samples:
    """N real-time streams from one scheduler (a frame every 80 ms each, spread over the
    frame), not one task per stream: the load generator stays light."""
    samples = Samples()
    opened = await asyncio.gather(
        *(_open(url, direct, samples) for _ in range(streams)), return_exceptions=True
    )
    live = []
    for result in opened:
        if isinstance(result, BaseException):
            print(f"stream failed: {result!r}", file=sys.stderr)
            samples.failed_streams += 1
        else:
            live.append(result)
    frame = np.zeros(FRAME_SAMPLES, np.float32)
    frames = int(seconds / FRAME_SECONDS)
    t0 = time.monotonic()
    due = [(t0 + random.uniform(0, FRAME_SECONDS), i, 1) for i in range(len(live))]
    heapq.heapify(due)
    while due:
        when, i, seq = due[0]
        now = time.monotonic()
        if when > now:
            await asyncio.sleep(min(when - now, 0.005))
            continue
        heapq.heappop(due)
        transport, listener = live[i]
        frame[0] = seq / SEQ_SCALE
        payload = moshi.encode(moshi.Audio.from_samples(frame)) if direct else frame.tobytes()
        if seq % WORD_EVERY == 0:
            listener.sent_at[seq] = time.monotonic_ns()
            samples.sent += 1
        transport.send(WSMsgType.BINARY, payload)
        if seq < frames:
            heapq.heappush(due, (when + FRAME_SECONDS, i, seq + 1))
    await asyncio.sleep(1.0)  # late answers still count
    for transport, _ in live:
        transport.send_close(WSCloseCode.OK)
    await asyncio.sleep(0.2)
    for transport, _ in live:
        transport.disconnect()
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


def start_proxy(backend_port: int, proxy_port: int, transport: str) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "app", "serve", "--port", str(proxy_port)]
    command += ["--log-level", "warning", "--transport", transport, "--idle-timeout", "60"]
    command += ["--backend", f"ws://127.0.0.1:{backend_port}{moshi.PATH}"]
    return subprocess.Popen(command, cwd=ROOT)


def run_level(streams: int, seconds: float, transports: list[str]) -> list[dict[str, Any]]:
    """One load level: straight to the backend once, then through the proxy on each transport
    (a fresh proxy and backend process each, the same load)."""
    python = sys.executable
    backend_port = free_port()
    backend = subprocess.Popen(
        [python, "-m", "benchmarks.proxy_latency", "--echo-backend", str(backend_port)], cwd=ROOT
    )
    try:
        wait_port(backend_port)
        direct = summarize(
            run_event_loop(
                load(f"ws://127.0.0.1:{backend_port}{moshi.PATH}", True, streams, seconds)
            )
        )
        return [
            run_via_proxy(backend, backend_port, streams, seconds, transport, direct)
            for transport in transports
        ]
    finally:
        backend.terminate()
        backend.wait(timeout=30)


def run_via_proxy(
    backend: subprocess.Popen[bytes],
    backend_port: int,
    streams: int,
    seconds: float,
    transport: str,
    direct_summary: dict[str, Any],
) -> dict[str, Any]:
    proxy_port = free_port()
    proxy = start_proxy(backend_port, proxy_port, transport)
    try:
        wait_port(proxy_port)
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
        proxy.terminate()
        proxy.wait(timeout=30)
    via_summary = summarize(via)
    return {
        "streams": streams,
        "seconds": seconds,
        "transport": transport,
        "via_proxy": via_summary,
        "direct": direct_summary,
        "added_ms": {
            f"{key}_{q}": round(via_summary[key][q] - direct_summary[key][q], 3)
            for key in ("up_ms", "round_trip_ms")
            for q in ("p50", "p99")
        },
        "lost_frames": via_summary["timed_frames_sent"] - via_summary["timed_frames_answered"],
        "cpu_cores": {name: round(value, 3) for name, value in cpu.items()},
        # proxy CPU per second of one real-time stream, in milliseconds of one core
        "proxy_cpu_ms_per_stream_s": round(cpu["proxy"] * 1000 / streams, 3),
        "proxy_rss_mib": round(rss_after, 1),
        "proxy_rss_per_stream_kib": round((rss_after - rss_before) * 1024 / streams, 1),
    }


def print_table(results: list[dict[str, Any]]) -> None:
    head = (
        f"{'streams':>7} | {'transport':>10} | {'CPU ms/stream-s':>15} | "
        f"{'via proxy up p50/p99':>21} | {'down p50/p99':>13} | "
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
            f"{r['streams']:>7} | {r['transport']:>10} | {r['proxy_cpu_ms_per_stream_s']:>15.3f} | "
            f"{up['p50']:>9.2f} / {up['p99']:>9.2f} | "
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
    parser.add_argument(
        "--transports",
        nargs="+",
        default=[t.value for t in Transport],
        choices=[t.value for t in Transport],
        help="the proxy's WebSocket libraries to compare, each under the same load",
    )
    parser.add_argument("--out", type=Path, default=ROOT / "bench-results" / "proxy_latency.json")
    parser.add_argument("--echo-backend", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.echo_backend:
        run_event_loop(echo_backend(args.echo_backend))
        return
    results = [r for n in args.streams for r in run_level(n, args.seconds, args.transports)]
    print_table(results)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    machine = {"cpus": os.cpu_count(), "python": sys.version.split()[0]}
    args.out.write_text(json.dumps({"machine": machine, "results": results}, indent=2) + "\n")
    print(f"\nwritten to {args.out}")


if __name__ == "__main__":
    main()
