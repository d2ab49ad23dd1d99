"""Benchmark: how often wtype types a text exactly under sway, with and without a leading pause.

    uv run python -m benchmarks.wtype_pause --runs 20 --pauses 0,10,30

Runs headless sway (tests/support/sway.py) with a native Wayland Qt window focused, and types
a hard text (``Größe “quoted” café… 日本語 €5``) ``--runs`` times per pause: ``wtype -s MS --``
(no ``-s`` for 0, as wtype has no zero delay). Prints, per pause, the exact runs, the runs that
lost their first character, and the mean time per run. Figures, not assertions.
"""

from __future__ import annotations

import argparse
import subprocess
import tempfile
import time
from pathlib import Path

from tests.support.sway import sway_desktop
from tests.support.target_window import focused_target, wait_for_text

TEXT = "Größe “quoted” café… 日本語 €5"


def measure(runs: int, pauses: list[int]) -> list[tuple[int, int, int, float]]:
    rows = []
    with tempfile.TemporaryDirectory() as home:
        out = Path(home) / "typed.txt"
        with sway_desktop(Path(home) / "home") as d, focused_target(d.env, out):
            for pause in pauses:
                exact = first_lost = 0
                spent = 0.0
                for _ in range(runs):
                    before = out.read_text(encoding="utf-8") if out.exists() else ""
                    lead = ["-s", str(pause)] if pause else []
                    start = time.monotonic()
                    subprocess.run(["wtype", *lead, "--", f"{TEXT}\n"], env=d.env, check=True)
                    spent += time.monotonic() - start
                    got = wait_for_text(out, f"{before}{TEXT}\n", 2.0)[len(before) :]
                    exact += got == f"{TEXT}\n"
                    first_lost += got == f"{TEXT[1:]}\n"
                    if not got.endswith("\n"):  # keep one line per run
                        subprocess.run(["wtype", "-s", "30", "-k", "Return"], env=d.env, check=True)
                        wait_for_text(out, f"{before}{got}\n", 2.0)
                rows.append((pause, exact, first_lost, spent / runs))
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--pauses", default="0,10,30", help="leading pauses in ms, e.g. 0,10,30")
    args = parser.parse_args()
    pauses = [int(p) for p in args.pauses.split(",")]
    print(f"{'pause ms':>8} {'exact':>7} {'1st lost':>8} {'ms/run':>7}")
    for pause, exact, lost, seconds in measure(args.runs, pauses):
        print(f"{pause:>8} {exact:>4}/{args.runs:<2} {lost:>8} {seconds * 1000:>7.0f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
