"""One command for the repository's performance figures: runs the benchmarks and writes
docs/BENCHMARKS.md with the machine, the command lines, tables and plots.

    uv run python -m benchmarks.report            # about 15 minutes on 2 cores
    uv run python -m benchmarks.report --quick    # a smoke run of every part, about 3 minutes
    uv run python -m benchmarks.report --rewrite  # the document again from the last run

Parts, each a separate command (shown in the report), run one after the other:

1. the proxy's latency and CPU against streams (benchmarks/proxy_latency.py), with both
   WebSocket transports side by side under the same load;
2. the desktop app's latencies (benchmarks/app_latency.py; needs Xvfb, PulseAudio, xdotool
   and espeak-ng, as the test desktop of ``tests/run``);
3. the local engine's model step at full size (benchmarks/engine_step.py; needs torch and
   moshi, which tests/run installs), shown as a table;
4. a short soak through the proxy and the moshi-server double (benchmarks/proxy_soak.py);
5. a short soak of dictations through the app (benchmarks/app_soak.py).

The long soaks (10,000 proxy sessions, 1,000 dictations) take longer than the report may; run
alone with ``--out bench-results/proxy_soak_long.json`` and ``app_soak_long.json`` (the
commands are in ``LONG_SOAKS``), the report quotes their last figures.

A part that fails is reported as failed, with its error, and the others still run.
"""

from __future__ import annotations

import argparse
import datetime
import importlib.util
import json
import os
import platform
import shlex
import subprocess
import sys
import time
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench-results"
DOC = ROOT / "docs" / "BENCHMARKS.md"
PLOTS = ROOT / "docs" / "benchmarks"

# The long soaks, run alone (see the module's docstring); the report quotes them if present.
LONG_SOAKS = {
    "proxy": ["benchmarks.proxy_soak", "--sessions", "10000", "--every", "500"],
    "app": ["benchmarks.app_soak", "--dictations", "1000", "--every", "50"],
}

# The local engine's benchmark: a module run as ``python -m MODULE --out FILE`` that writes
# JSON {"rows": [{"<figure>": ...}, ...], "notes": "..."}.
ENGINE_BENCHMARK = "benchmarks.engine_step"


@dataclass
class Part:
    title: str
    command: list[str]
    output: Path
    seconds: float = 0.0
    error: str = ""
    data: Any = None
    log: str = field(default="", repr=False)

    def run(self) -> None:
        started = time.monotonic()
        print(f"== {self.title}: {shlex.join(self.command)}", flush=True)
        done = subprocess.run(self.command, cwd=ROOT, capture_output=True, text=True, check=False)
        self.seconds = time.monotonic() - started
        self.log = done.stdout + done.stderr
        print(done.stdout[-3000:], flush=True)
        if done.returncode != 0:
            self.error = f"exit status {done.returncode}: {done.stderr.strip()[-800:]}"
            print(self.error, file=sys.stderr)
            return
        self.data = json.loads(self.output.read_text())


def shown(command: list[str]) -> str:
    """The command as a reader types it, from the repository's root."""
    root = str(ROOT) + os.sep
    args = [arg.removeprefix(root) for arg in command[1:]]
    return "uv run " + shlex.join(["python", *args])


def machine_facts() -> dict[str, str]:
    cpu = "?"
    with open("/proc/cpuinfo", encoding="utf-8") as info:
        for line in info:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    memory = "?"
    with open("/proc/meminfo", encoding="utf-8") as info:
        for line in info:
            if line.startswith("MemTotal"):
                memory = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
                break
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    versions = ", ".join(
        f"{name} {metadata.version(name)}" for name in ("picows", "websockets", "uvloop", "numpy")
    )
    return {
        "date (UTC)": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M"),
        "CPU": f"{cpu}, {os.cpu_count()} logical cores",
        "memory": memory,
        "system": f"{platform.system()} {platform.release()}",
        "Python": platform.python_version(),
        "libraries": versions,
        "commit": commit or "?",
        "load average at start": " ".join(f"{x:.2f}" for x in os.getloadavg()),
    }


def module(name: str, *args: str) -> list[str]:
    return [sys.executable, "-m", f"benchmarks.{name}", *args]


def parts(quick: bool) -> list[Part]:
    dictations = "2" if quick else "8"
    sessions = "60" if quick else "400"
    soak_dictations, soak_every = ("20", "5") if quick else ("200", "20")
    out = str(RESULTS / "proxy_latency.json")
    streams = ["1", "16"] if quick else ["1", "64", "200", "400"]
    seconds = "4" if quick else "15"
    found = []
    found.append(
        Part(
            "Proxy latency and CPU against streams",
            module("proxy_latency", "--streams", *streams, "--seconds", seconds, "--out", out),
            RESULTS / "proxy_latency.json",
        )
    )
    found.append(
        Part(
            "App latencies",
            module(
                "app_latency",
                "--dictations",
                dictations,
                "--output",
                str(RESULTS / "app_latency.json"),
            ),
            RESULTS / "app_latency.json",
        )
    )
    if all(importlib.util.find_spec(name) is not None for name in ("torch", "moshi")):
        found.append(
            Part(
                "Local engine",
                [
                    sys.executable,
                    "-m",
                    ENGINE_BENCHMARK,
                    "--steps",
                    "8",
                    "--out",
                    str(RESULTS / "engine.json"),
                ],
                RESULTS / "engine.json",
            )
        )
    found.append(
        Part(
            "Soak",
            module("proxy_soak", "--sessions", sessions, "--out", str(RESULTS / "proxy_soak.json")),
            RESULTS / "proxy_soak.json",
        )
    )
    found.append(
        Part(
            "App soak",
            module(
                "app_soak",
                "--dictations",
                soak_dictations,
                "--every",
                soak_every,
                "--out",
                str(RESULTS / "app_soak.json"),
            ),
            RESULTS / "app_soak.json",
        )
    )
    return found


# -- plots --------------------------------------------------------------------------------


def pyplot() -> Any:
    """matplotlib's pyplot, drawing to files only (imported when a plot is made)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save(fig: Any, name: str) -> list[str]:
    """Write the figure to docs/benchmarks/``name``; the names written."""
    fig.tight_layout()
    fig.savefig(PLOTS / name, dpi=90)
    pyplot().close(fig)
    return [name]


def plot_proxy(results: list[dict[str, Any]]) -> list[str]:
    plt = pyplot()
    transports = sorted({r["transport"] for r in results})
    fig, (cpu_ax, lat_ax) = plt.subplots(1, 2, figsize=(11, 4))
    for transport in transports:
        rows = [r for r in results if r["transport"] == transport]
        x = [r["streams"] for r in rows]
        cpu_ax.plot(x, [r["cpu_cores"]["proxy"] for r in rows], "o-", label=transport)
        lat_ax.plot(
            x,
            [r["via_proxy"]["round_trip_ms"]["p50"] for r in rows],
            "o-",
            label=f"{transport} p50",
        )
        lat_ax.plot(
            x,
            [r["via_proxy"]["round_trip_ms"]["p99"] for r in rows],
            "s--",
            label=f"{transport} p99",
        )
    direct = {r["streams"]: r["direct"]["round_trip_ms"] for r in results}
    xs = sorted(direct)
    lat_ax.plot(xs, [direct[x]["p50"] for x in xs], "k:", label="no proxy p50")
    cpu_ax.set(xlabel="real-time streams", ylabel="proxy CPU (cores)", title="Proxy CPU")
    lat_ax.set(xlabel="real-time streams", ylabel="round trip (ms)", title="Frame round trip")
    lat_ax.set_yscale("log")
    cpu_ax.legend()
    lat_ax.legend(fontsize=8)
    return save(fig, "proxy_cpu_latency.png")


def plot_soak(data: dict[str, Any]) -> list[str]:
    plt = pyplot()
    samples = data["samples"]
    x = [s["sessions"] for s in samples]
    fig, ax = plt.subplots(figsize=(7, 3.5))
    ax.plot(x, [s["rss_mib"] for s in samples], "o-", color="tab:blue", label="RSS (MiB)")
    ax.set(xlabel="sessions", ylabel="proxy RSS (MiB)", title="Soak: proxy memory and fds")
    ax.set_ylim(bottom=0)
    fds = ax.twinx()
    fds.plot(x, [s["fds"] for s in samples], "s--", color="tab:orange", label="open fds")
    fds.set_ylabel("open fds")
    fds.set_ylim(bottom=0)
    fig.legend(loc="lower right")
    return save(fig, "soak.png")


def plot_app_soak(data: dict[str, Any]) -> list[str]:
    plt = pyplot()
    samples = data["samples"]
    x = [s["dictations"] for s in samples]
    fig, (memory, history, files) = plt.subplots(1, 3, figsize=(12, 3.5))
    memory.plot(x, [s["rss_mib"] for s in samples], "o-", color="tab:blue")
    memory.set(xlabel="dictations", ylabel="MiB", title="App RSS")
    history.plot(x, [s["history_kib"] for s in samples], "^-", color="tab:green")
    history.set(xlabel="dictations", ylabel="KiB", title="History, pages in use")
    files.plot(x, [s["fds"] for s in samples], "s--", color="tab:orange", label="open fds")
    files.plot(x, [s["threads"] for s in samples], "d:", color="tab:purple", label="threads")
    files.set(xlabel="dictations", title="App fds and threads")
    files.legend(loc="lower right")
    for ax in (memory, history, files):
        ax.set_ylim(bottom=0)
    return save(fig, "app_soak.png")


def plot_app(data: dict[str, Any]) -> list[str]:
    plt = pyplot()
    rows = {k: v for k, v in data.items() if isinstance(v, dict) and "median_ms" in v}
    if not rows:
        return []
    fig, ax = plt.subplots(figsize=(9, 0.5 * len(rows) + 1.2))
    names = list(rows)
    y = range(len(names))
    ax.barh(y, [rows[n]["median_ms"] for n in names], color="tab:blue", label="median")
    ax.scatter([rows[n]["p95_ms"] for n in names], y, color="tab:red", zorder=3, label="p95")
    ax.set_yticks(list(y), names, fontsize=8)
    ax.set_xscale("log")
    ax.set(xlabel="ms", title="App latencies")
    ax.legend()
    return save(fig, "app_latency.png")


# -- the document -------------------------------------------------------------------------


def proxy_section(part: Part) -> list[str]:
    results: list[dict[str, Any]] = part.data["results"]
    out = [
        "Each level runs N streams of real-time audio (one 80 ms frame every 80 ms each) "
        "through the proxy to a stand-in backend that answers every frame at once; the same "
        "load first runs straight to the backend, and the difference is what the proxy "
        "adds. Each transport gets its own fresh proxy process under the same load, one "
        "after the other. *CPU/stream-s* is the proxy's CPU time per second of one stream "
        "(ms of one core); *lost* counts timed frames that got no answer (and failed "
        "streams). Round trip: client → proxy → backend → proxy → client.",
        "",
        "| streams | transport | proxy CPU (cores) | CPU/stream-s (ms) | added p50 (ms) "
        "| added p99 (ms) | round trip p50 / p99 (ms) | lost | failed streams | proxy RSS |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        via, added = r["via_proxy"], r["added_ms"]
        lost = r.get("lost_frames", via["timed_frames_sent"] - via["timed_frames_answered"])
        out.append(
            f"| {r['streams']} | {r['transport']} | {r['cpu_cores']['proxy']:.3f} "
            f"| {r['proxy_cpu_ms_per_stream_s']:.2f} | {added['round_trip_ms_p50']:.2f} "
            f"| {added['round_trip_ms_p99']:.2f} | {via['round_trip_ms']['p50']:.2f} / "
            f"{via['round_trip_ms']['p99']:.2f} | {lost} | {via['failed_streams']} "
            f"| {r['proxy_rss_mib']:.0f} MiB |"
        )
    ratios = []
    for streams in sorted({r["streams"] for r in results}):
        by = {r["transport"]: r for r in results if r["streams"] == streams}
        if {"picows", "websockets"} <= by.keys() and by["websockets"]["cpu_cores"]["proxy"]:
            ratio = by["picows"]["cpu_cores"]["proxy"] / by["websockets"]["cpu_cores"]["proxy"]
            ratios.append(f"{ratio:.2f} at {streams}")
    if ratios:
        out += [
            "",
            "**picows CPU as a share of websockets' at the same load:** "
            + "; ".join(ratios)
            + ". The goal of issue 14 is at most 0.25.",
        ]
    out += [
        "",
        "![Proxy CPU and latency against streams](benchmarks/proxy_cpu_latency.png)",
        "",
        "**Why picows.** With `websockets` (its C speedups installed: they only mask payloads) "
        "every message costs a Python frame parser, a protocol state machine, an asyncio "
        "stream and a task wake-up; the proxy handles four messages per audio frame. picows "
        "parses and writes frames in Cython and calls back per frame, so the relay runs audio "
        "up and words down inside that callback, without a task switch (the rest of a "
        "stream's life stays on the shared async path). aiohttp's WebSocket, the other "
        "candidate, has a compiled reader too but still passes every message through an "
        "asyncio queue to a task, and brings a whole web framework; it is not measured here. "
        "What remains per frame is mostly the event loop and the socket calls (a read per "
        "message in, a write per message out), which no WebSocket library removes; "
        "`--workers N` spreads streams over more cores.",
    ]
    return out


def app_section(part: Part) -> list[str]:
    data = part.data
    out = [
        "The app under Xvfb with a PulseAudio virtual microphone, the hotkey pressed with "
        "XTEST, a real target window; a scripted `/v1/stream` server (the app's share alone) "
        "and the proxy with the moshi-server double (model delay included).",
        "",
        "| latency | n | min (ms) | median (ms) | p95 (ms) | max (ms) |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name, row in data.items():
        if isinstance(row, dict) and "median_ms" in row:
            out.append(
                f"| {name} | {row['n']} | {row['min_ms']:.1f} | {row['median_ms']:.1f} "
                f"| {row['p95_ms']:.1f} | {row['max_ms']:.1f} |"
            )
    cpu = data.get("cpu_share_of_one_core", {})
    rss = data.get("rss_mib", {})
    if cpu or rss:
        out.append("")
        out += [f"- CPU {k}: {v * 100:.2f} % of one core" for k, v in cpu.items()]
        out += [f"- memory (RSS) {k}: {v:.0f} MiB" for k, v in rss.items()]
    out += ["", "![App latencies](benchmarks/app_latency.png)"]
    return out


def engine_section(part: Part | None) -> list[str]:
    if part is None:
        return [
            f"Not measured: `{ENGINE_BENCHMARK}` needs torch and moshi (tests/run installs "
            "them into the project's environment)."
        ]
    rows = part.data.get("rows", [])
    if not rows:
        return ["The engine benchmark returned no rows."]
    keys = list(rows[0])
    out = ["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
    out += ["| " + " | ".join(str(row.get(k, "")) for k in keys) + " |" for row in rows]
    if part.data.get("notes"):
        out += ["", str(part.data["notes"])]
    return out


def soak_section(part: Part) -> list[str]:
    data = part.data
    first, last = data["samples"][0], data["samples"][-1]
    peak = max(s["rss_mib"] for s in data["samples"])
    return [
        f"{data['sessions']} sessions ({data['concurrency']} at a time, transport "
        f"{data['transport']}) through the proxy and the moshi-server double in "
        f"{data['seconds']} s; {data['failed']} failed. Proxy RSS {first['rss_mib']} → "
        f"{last['rss_mib']} MiB (peak {peak}), open fds {first['fds']} → {last['fds']}.",
        "",
        "![Soak: proxy memory and fds](benchmarks/soak.png)",
    ]


def app_soak_section(part: Part) -> list[str]:
    return [
        app_soak_summary(part.data),
        "",
        "![App soak: memory, history, fds and threads](benchmarks/app_soak.png)",
    ]


def app_soak_summary(data: dict[str, Any]) -> str:
    samples = data["samples"]
    warm, last = samples[min(1, len(samples) - 1)], samples[-1]
    return (
        f"{last['dictations']} dictations through one run of the app (Xvfb, PulseAudio, a "
        f"scripted server; each stored in the history with its audio) in {last['seconds']} s. "
        f"From dictation {warm['dictations']} to the last: app RSS {warm['rss_mib']} → "
        f"{last['rss_mib']} MiB (peak {max(s['rss_mib'] for s in samples)}), open fds "
        f"{warm['fds']} → {last['fds']}, threads {warm['threads']} → {last['threads']}, "
        f"the history (pages in use) {warm['history_kib']} → {last['history_kib']} KiB."
    )


def long_soaks_section() -> list[str]:
    """The long soaks' last results, if they were run on this checkout's machine."""
    out = []
    for name, args in LONG_SOAKS.items():
        path = RESULTS / f"{name}_soak_long.json"
        command = shown([sys.executable, "-m", *args, "--out", str(path)])
        if not path.exists():
            out.append(f"- `{command}`: not run here yet.")
            continue
        data = json.loads(path.read_text())
        when = datetime.datetime.fromtimestamp(path.stat().st_mtime, datetime.UTC)
        if name == "proxy":
            first, last = data["samples"][0], data["samples"][-1]
            figures = (
                f"{data['sessions']} sessions, {data['failed']} failed, in {data['seconds']} s; "
                f"proxy RSS {first['rss_mib']} → {last['rss_mib']} MiB (peak "
                f"{max(s['rss_mib'] for s in data['samples'])}), open fds {first['fds']} → "
                f"{last['fds']}."
            )
        else:
            figures = app_soak_summary(data)
        out.append(f"- `{command}` ({when:%Y-%m-%d}): {figures}")
    return out


def write_doc(facts: dict[str, str], done: list[Part], quick: bool, total: float) -> None:
    lines = [
        "# Benchmarks",
        "",
        "Generated by `uv run python -m benchmarks.report"
        + (" --quick" if quick else "")
        + f"` in {total / 60:.1f} min; do not edit by hand. Figures, not assertions: the "
        "tests never assert timings.",
        "",
        "**The machine is shared and noisy:** it has few cores, and other work ran on it "
        "while this was measured; the load generator, the stand-in backend and the proxy "
        "share its cores. Compare rows of one run with each other (they ran side by side), "
        "not with figures from another machine.",
        "",
        "## Machine",
        "",
        *[f"- **{k}:** {v}" for k, v in facts.items()],
        "",
        "## Commands",
        "",
        *[f"- {p.title}: `{shown(p.command)}` ({p.seconds:.0f} s)" for p in done],
        "",
    ]
    sections = {
        "Proxy latency and CPU against streams": proxy_section,
        "App latencies": app_section,
        "Soak": soak_section,
        "App soak": app_soak_section,
    }
    engine = next((p for p in done if p.title == "Local engine"), None)
    for part in done:
        if part.title == "Local engine":
            continue
        lines += [f"## {part.title}", ""]
        if part.error:
            lines += [f"Failed: `{part.error}`", ""]
        else:
            lines += [*sections[part.title](part), ""]
        if part.title == "App latencies":
            lines += ["## Local engine", ""]
            if engine is not None and engine.error:
                lines += [f"Failed: `{engine.error}`", ""]
            else:
                lines += [*engine_section(engine), ""]
    lines += ["## Long soaks", "", "Run alone, not by this report; their last results:", ""]
    lines += long_soaks_section()
    DOC.write_text("\n".join(lines).rstrip() + "\n", encoding="utf-8")
    print(f"written to {DOC}")


def save_run(facts: dict[str, str], done: list[Part], quick: bool, total: float) -> None:
    meta = {
        "facts": facts,
        "quick": quick,
        "total": total,
        "parts": [
            {"title": p.title, "command": p.command, "output": str(p.output)}
            | {"seconds": p.seconds, "error": p.error}
            for p in done
        ],
    }
    (RESULTS / "report.json").write_text(json.dumps(meta, indent=2) + "\n")


def load_run() -> tuple[dict[str, str], list[Part], bool, float]:
    meta = json.loads((RESULTS / "report.json").read_text())
    done = []
    for p in meta["parts"]:
        part = Part(p["title"], p["command"], Path(p["output"]), p["seconds"], p["error"])
        if not part.error:
            part.data = json.loads(part.output.read_text())
        done.append(part)
    return meta["facts"], done, meta["quick"], meta["total"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="a short smoke run of each part")
    parser.add_argument(
        "--rewrite", action="store_true", help="only rewrite the document from the last run"
    )
    args = parser.parse_args()
    PLOTS.mkdir(parents=True, exist_ok=True)
    if args.rewrite:
        facts, done, quick, total = load_run()
        render(facts, done, quick, total)
        return
    started = time.monotonic()
    facts = machine_facts()
    done = parts(args.quick)
    for part in done:
        part.run()
    total = time.monotonic() - started
    save_run(facts, done, args.quick, total)
    render(facts, done, args.quick, total)


def render(facts: dict[str, str], done: list[Part], quick: bool, total: float) -> None:
    plotters = {
        "Proxy latency and CPU against streams": lambda d: plot_proxy(d["results"]),
        "App latencies": plot_app,
        "Soak": plot_soak,
        "App soak": plot_app_soak,
    }
    for part in done:
        if not part.error and part.title in plotters:
            plotters[part.title](part.data)
    write_doc(facts, done, quick, total)


if __name__ == "__main__":
    main()
