"""``kyutai-dictate bench``: parallel streams of one audio file, latency figures per stream."""

from __future__ import annotations

import asyncio
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from app.audio.audio_file import load_audio_file
from app.audio.pacing import paced_frames
from app.backend.connect import open_v1_stream
from app.backend.stream_client import SendStats, StreamClientError
from app.backend.stream_runner import run_stream
from app.cli.bench_report import BenchConfig, format_table, report_dict
from app.cli.latency_stats import StreamResult, StreamTimes, stream_result
from app.core.endpoint import Endpoint
from app.core.errors import AppError
from app.core.settings import ServerProtocol
from server.models import STT_1B, ModelProfile
from server.protocol.audio import SAMPLE_RATE, Samples
from server.protocol.stream import End, ServerMessage, Token


@dataclass(frozen=True, slots=True)
class BenchOptions:
    """Everything ``bench`` needs, validated by the command line."""

    endpoint: Endpoint
    file: Path
    parallel: int = 4
    runs: int = 3
    rtf: float = 1.0
    json: bool = False
    output: Path | None = None  # also write the JSON report here
    open_timeout: float = 60.0
    drain_timeout: float = 30.0
    protocol: ServerProtocol = ServerProtocol.AUTO
    model: ModelProfile = STT_1B  # the original service's model (its release needs the delay)


def run_bench(options: BenchOptions, out: TextIO | None = None) -> int:
    """Run the benchmark and print its report (to stdout by default); 1 if any stream failed."""
    out = out or sys.stdout
    samples = load_audio_file(options.file)
    results = asyncio.run(bench(options, samples))
    config = BenchConfig(
        endpoint=options.endpoint.describe(),
        file=str(options.file),
        audio_seconds=len(samples) / SAMPLE_RATE,
        parallel=options.parallel,
        runs=options.runs,
        rtf=options.rtf,
    )
    report = json.dumps(report_dict(config, results), indent=2)
    if options.output is not None:
        try:
            options.output.write_text(report + "\n", encoding="utf-8")
        except OSError as exc:
            raise AppError(f"cannot write the report to {options.output}: {exc}") from None
    print(report if options.json else format_table(config, results), file=out)
    return 1 if any(not r.ok for r in results) else 0


async def bench(options: BenchOptions, samples: Samples) -> list[StreamResult]:
    """``runs`` rounds, one after the other, of ``parallel`` simultaneous streams."""
    results: list[StreamResult] = []
    for run in range(1, options.runs + 1):
        results += await asyncio.gather(
            *(measure_stream(options, samples, run, i) for i in range(1, options.parallel + 1))
        )
    return results


async def measure_stream(
    options: BenchOptions, samples: Samples, run: int, index: int
) -> StreamResult:
    """Stream ``samples`` once, paced at ``options.rtf``, then ``end``; time what comes back."""
    started = time.monotonic()
    connected: float | None = None
    first_token: float | None = None
    last_token: float | None = None
    end_received: float | None = None
    words = 0
    sent = SendStats()
    error: str | None = None

    def on_message(message: ServerMessage) -> None:
        nonlocal first_token, last_token, end_received, words
        now = time.monotonic()
        if isinstance(message, Token):
            words += 1
            first_token = now if first_token is None else first_token
            last_token = now
        elif isinstance(message, End):
            end_received = now

    try:
        async with open_v1_stream(
            options.endpoint,
            protocol=options.protocol,
            model=options.model,
            open_timeout=options.open_timeout,
        ) as stream:
            connected = time.monotonic()
            sent = stream.stats
            await run_stream(
                stream,
                paced_frames(samples, options.rtf),
                on_message,
                drain_timeout=options.drain_timeout,
            )
    except StreamClientError as exc:
        error = str(exc)
    except OSError as exc:  # a network failure that surfaced outside the client's translation
        error = f"{type(exc).__name__}: {exc}"
    times = StreamTimes(
        started=started,
        connected=connected,
        first_audio=sent.first_audio_at,
        last_audio=sent.last_audio_at,
        end_sent=sent.end_sent_at,
        first_token=first_token,
        last_token=last_token,
        end_received=end_received,
    )
    return stream_result(run, index, times, words, error)
