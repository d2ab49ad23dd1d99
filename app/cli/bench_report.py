"""Benchmark report (pure): a text table and a JSON-ready dict of the same figures."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from app.cli.latency_stats import METRICS, StreamResult, Summary, summarize, summarize_results


@dataclass(frozen=True, slots=True)
class BenchConfig:
    """What was measured, for the report's header."""

    endpoint: str  # already redacted
    file: str
    audio_seconds: float
    parallel: int
    runs: int
    rtf: float  # 0 or inf: unpaced


def format_table(config: BenchConfig, results: Sequence[StreamResult]) -> str:
    """Human-readable report: configuration, stream counts, latency table, failures."""
    failed = [r for r in results if not r.ok]
    silent = [r for r in results if r.ok and r.words == 0]
    pace = "unpaced" if _unpaced(config.rtf) else f"rtf {config.rtf:g}"
    lines = [
        f"{config.parallel} parallel stream(s) x {config.runs} run(s), {pace}, "
        f"{config.file} ({config.audio_seconds:.2f} s of audio) -> {config.endpoint}",
        f"streams: {len(results)}, ok: {len(results) - len(failed)}, failed: {len(failed)}, "
        f"ok without words: {len(silent)}",
        "",
        f"{'latency (ms)':<30} {'n':>4} {'min':>9} {'median':>9} {'p95':>9} {'max':>9}",
    ]
    for field, label in METRICS:
        lines.append(_row(label, summarize_results(results)[field]))
    words = summarize(float(r.words) for r in results if r.ok)
    if words is not None:
        lines += [
            "",
            f"words per ok stream: min {words.min:.0f}, median {words.median:g}, "
            f"max {words.max:.0f}",
        ]
    if failed:
        lines += ["", "failed streams:"]
        lines += [f"  run {r.run} stream {r.stream}: {r.error}" for r in failed]
    return "\n".join(lines)


def report_dict(config: BenchConfig, results: Sequence[StreamResult]) -> dict[str, Any]:
    """The report as a JSON-ready dict: ``config``, ``counts``, ``latency_ms`` (a summary per
    metric, null when no stream measured it) and ``streams`` (one object per stream, with its
    raw values). ``rtf`` is null when unpaced.
    """
    failed = sum(not r.ok for r in results)
    header = asdict(config)
    header["rtf"] = None if _unpaced(config.rtf) else config.rtf
    summaries = summarize_results(results)
    return {
        "config": header,
        "counts": {
            "total": len(results),
            "ok": len(results) - failed,
            "failed": failed,
            "ok_without_words": sum(r.ok and r.words == 0 for r in results),
        },
        "latency_ms": {
            field.removesuffix("_ms"): None if summary is None else asdict(summary)
            for field, summary in summaries.items()
        },
        "streams": [{**asdict(r), "ok": r.ok} for r in results],
    }


def _row(label: str, summary: Summary | None) -> str:
    if summary is None:
        return f"{label:<30} {0:>4} {'-':>9} {'-':>9} {'-':>9} {'-':>9}"
    figures = (summary.min, summary.median, summary.p95, summary.max)
    return f"{label:<30} {summary.n:>4} " + " ".join(f"{value:>9.1f}" for value in figures)


def _unpaced(rtf: float) -> bool:
    return rtf == 0 or math.isinf(rtf)
