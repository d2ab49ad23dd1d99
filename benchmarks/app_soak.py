"""Soak: many dictations through one run of the app (tests/support/app_soak.py), its memory,
fds, threads and history file sampled as it goes. They should stay flat.

    uv run python -m benchmarks.app_soak --dictations 1000 --every 50

Prints a row per sample and writes JSON to bench-results/app_soak.json. Figures, not
assertions (the soak test, ``pytest -m soak tests/ui/test_app_soak.py``, asserts them).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
from pathlib import Path

from tests.support.app_soak import Sample, soak

ROOT = Path(__file__).resolve().parents[1]
DISPLAY = 94


def print_row(row: Sample) -> None:
    print(
        f"{row.dictations:>10} {row.seconds:>8.1f} {row.rss_mib:>9.1f} {row.fds:>5} "
        f"{row.threads:>7} {row.cpu_s:>7.1f} {row.history_kib:>11.1f} {row.wal_kib:>8.1f}",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dictations", type=int, default=1000)
    parser.add_argument("--every", type=int, default=50, help="dictations between samples")
    parser.add_argument("--out", type=Path, default=ROOT / "bench-results" / "app_soak.json")
    args = parser.parse_args()
    print(
        f"{'dictations':>10} {'seconds':>8} {'RSS MiB':>9} {'fds':>5} "
        f"{'threads':>7} {'CPU s':>7} {'history KiB':>11} {'WAL KiB':>8}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        rows = asyncio.run(soak(Path(tmp), DISPLAY, args.dictations, args.every, print_row))
    warm, last = rows[min(1, len(rows) - 1)], rows[-1]
    print(
        f"from {warm.dictations} dictations to {last.dictations}: RSS {warm.rss_mib} -> "
        f"{last.rss_mib} MiB, fds {warm.fds} -> {last.fds}, threads {warm.threads} -> "
        f"{last.threads}, history {warm.history_kib} -> {last.history_kib} KiB"
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    data = {"dictations": args.dictations, "samples": [row.as_dict() for row in rows]}
    args.out.write_text(json.dumps(data, indent=1))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
