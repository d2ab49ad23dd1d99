"""``kyutai-dictate bench --compare-gpus L4,L40S,A10G``: one Modal app per GPU, the same
benchmark against each (after one warm-up stream), one table; every app it deployed is
stopped afterwards, whatever happened."""

from __future__ import annotations

import asyncio
import shlex
import sys
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import TextIO

from app.audio.audio_file import load_audio_file
from app.cli.bench import BenchOptions, bench
from app.cli.deploy import deploy_modal, modal_stop_command, stop_modal
from app.cli.latency_stats import StreamResult, Summary, summarize_results
from app.core.endpoint import Endpoint
from app.core.errors import AppError, UsageError
from server.deploy.modal_cloud.settings import ModalSettings, app_name_for_gpu


def compare_gpus(
    gpus: Sequence[str],
    options: BenchOptions,
    env: Mapping[str, str],
    out: TextIO | None = None,
) -> int:
    """Deploy, warm up, measure and stop each GPU in turn; print the table (also after a
    failure, with the GPUs measured so far). 1 if a stream or a deployment failed."""
    out = out or sys.stdout
    key, secret = env.get("MODAL_KEY", ""), env.get("MODAL_SECRET", "")
    if not key or not secret:
        raise UsageError("set MODAL_KEY and MODAL_SECRET (a Modal proxy auth token) to connect")
    for gpu in gpus:  # all names checked before anything is deployed
        try:
            ModalSettings.from_env({"KYUTAI_GPU": gpu})
        except ValueError as exc:
            raise UsageError(str(exc)) from None
    samples = load_audio_file(options.file)
    rows: list[tuple[str, list[StreamResult]]] = []
    try:
        for gpu in gpus:
            app_name = app_name_for_gpu(gpu)
            try:
                deployed = deploy_modal(gpu, None, None, app_name, env)
                endpoint = Endpoint(deployed.url, (("Modal-Key", key), ("Modal-Secret", secret)))
                # One unmeasured stream first: the container's cold start is not the GPU's speed.
                warm_up = replace(options, endpoint=endpoint, parallel=1, runs=1)
                asyncio.run(bench(warm_up, samples))
                results = asyncio.run(bench(replace(options, endpoint=endpoint), samples))
                rows.append((gpu, results))
            finally:
                _stop_quietly(app_name, env)
    finally:
        print(format_comparison(rows), file=out)
    return 1 if any(not r.ok for _, results in rows for r in results) else 0


def _stop_quietly(app_name: str, env: Mapping[str, str]) -> None:
    """Stop the app; a failure here must not hide the error that brought us here."""
    try:
        stop_modal(app_name, env)
    except AppError as exc:
        by_hand = shlex.join(["modal", *modal_stop_command(app_name)])
        print(f"could not stop {app_name} (stop it with `{by_hand}`): {exc}", file=sys.stderr)


def format_comparison(rows: Sequence[tuple[str, Sequence[StreamResult]]]) -> str:
    """GPU | first token median / p95 | end median / p95 | streams ok, in milliseconds."""
    header = f"{'GPU':<10} {'first token (ms) median / p95':>30} {'end (ms) median / p95':>24}"
    lines = [f"{header} {'ok':>7}"]
    for gpu, results in rows:
        summary = summarize_results(results)
        first, end = summary["first_token_ms"], summary["end_ms"]
        ok = sum(r.ok for r in results)
        lines.append(f"{gpu:<10} {_pair(first):>30} {_pair(end):>24} {f'{ok}/{len(results)}':>7}")
    return "\n".join(lines)


def _pair(summary: Summary | None) -> str:
    return "-" if summary is None else f"{summary.median:.0f} / {summary.p95:.0f}"
