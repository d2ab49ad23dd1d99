"""Percentiles, summaries, per-stream latencies and the benchmark report."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.cli.bench_report import BenchConfig, format_table, report_dict
from app.cli.latency_stats import (
    StreamResult,
    StreamTimes,
    percentile,
    stream_result,
    summarize,
    summarize_results,
)

latencies = st.lists(
    st.floats(min_value=-1e6, max_value=1e6, allow_nan=False), min_size=1, max_size=50
)
quantiles = st.floats(min_value=0, max_value=100)


@given(latencies, quantiles)
def test_percentile_matches_numpy(values: list[float], q: float) -> None:
    assert percentile(values, q) == pytest.approx(float(np.percentile(values, q)), abs=1e-6)


@given(latencies, quantiles)
def test_percentile_lies_within_the_values(values: list[float], q: float) -> None:
    assert min(values) <= percentile(values, q) <= max(values)


@given(latencies, quantiles, quantiles)
def test_percentile_grows_with_q(values: list[float], q1: float, q2: float) -> None:
    low, high = sorted((q1, q2))
    assert percentile(values, low) <= percentile(values, high)


@given(latencies)
def test_percentile_ends_and_order_independence(values: list[float]) -> None:
    assert percentile(values, 0) == min(values)
    assert percentile(values, 100) == max(values)
    assert percentile(values, 50) == percentile(list(reversed(values)), 50)


@given(latencies)
def test_summary_is_ordered(values: list[float]) -> None:
    summary = summarize(values)
    assert summary is not None
    assert summary.n == len(values)
    assert summary.min <= summary.median <= summary.p95 <= summary.max


def test_percentile_examples() -> None:
    assert percentile([1, 2, 3, 4], 50) == 2.5
    assert percentile([10], 95) == 10
    assert percentile(list(range(1, 101)), 95) == pytest.approx(95.05)


def test_percentile_rejects_empty_and_out_of_range() -> None:
    with pytest.raises(ValueError, match="no values"):
        percentile([], 50)
    with pytest.raises(ValueError, match=r"0\.\.100"):
        percentile([1.0], 101)


def test_summarize_skips_missing_values() -> None:
    assert summarize([None, None]) is None
    summary = summarize([None, 3.0, 1.0])
    assert summary is not None
    assert (summary.n, summary.min, summary.max) == (2, 1.0, 3.0)


def test_stream_result_latencies() -> None:
    times = StreamTimes(
        started=10.0,
        connected=10.1,
        first_audio=10.2,
        last_audio=12.2,
        end_sent=12.25,
        first_token=10.7,
        last_token=12.9,
        end_received=13.0,
    )
    result = stream_result(1, 2, times, words=7, error=None)
    assert result.ok
    assert result.connect_ms == pytest.approx(100)
    assert result.first_token_ms == pytest.approx(500)
    assert result.end_ms == pytest.approx(700)
    assert result.flush_ms == pytest.approx(750)


def test_failed_stream_keeps_what_it_measured() -> None:
    result = stream_result(1, 1, StreamTimes(started=1.0), words=0, error="refused")
    assert not result.ok
    assert result.connect_ms is None
    assert result.first_token_ms is None


def result(stream: int, first: float | None, error: str | None = None) -> StreamResult:
    return StreamResult(1, stream, 5 if error is None else 0, error, 10.0, first, 200.0, 300.0)


CONFIG = BenchConfig("ws://h/v1/stream", "a.wav", 3.5, parallel=3, runs=1, rtf=math.inf)


def test_summaries_ignore_streams_without_the_figure() -> None:
    summaries = summarize_results([result(1, 400.0), result(2, 600.0), result(3, None, "busy")])
    first = summaries["first_token_ms"]
    assert first is not None
    assert (first.n, first.min, first.median, first.max) == (2, 400.0, 500.0, 600.0)


def test_table_counts_and_lists_failures() -> None:
    table = format_table(CONFIG, [result(1, 400.0), result(2, 600.0), result(3, None, "busy")])
    assert "streams: 3, ok: 2, failed: 1" in table
    assert "unpaced" in table
    assert "run 1 stream 3: busy" in table
    assert "first token" in table
    assert "500.0" in table  # the median


def test_json_report_has_summaries_and_raw_values() -> None:
    report = report_dict(CONFIG, [result(1, 400.0), result(2, None, "busy")])
    text = json.dumps(report, allow_nan=False)  # valid JSON: no Infinity for the unpaced rtf
    assert json.loads(text)["config"]["rtf"] is None
    assert report["counts"] == {"total": 2, "ok": 1, "failed": 1, "ok_without_words": 0}
    assert report["latency_ms"]["first_token"]["median"] == 400.0
    assert [s["first_token_ms"] for s in report["streams"]] == [400.0, None]
    assert [s["ok"] for s in report["streams"]] == [True, False]
    assert report["streams"][1]["error"] == "busy"


def test_json_report_with_no_figures() -> None:
    report = report_dict(CONFIG, [result(1, None, "refused")])
    assert report["latency_ms"]["first_token"] is None
