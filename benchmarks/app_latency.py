"""Benchmark: the desktop app's own latencies, CPU and memory, measured for real.

Runs the app under Xvfb with a tray host and a PulseAudio virtual microphone (the test
desktop of tests/support/desktop.py), a real target window that logs when its text changes,
and on loopback either a scripted ``/v1/stream`` server (words on cue: the app's share of
the latency alone) or the proxy with the moshi-server double (speech in, words out). The
hotkey is pressed with XTEST (xdotool). All times are CLOCK_MONOTONIC, shared by the
processes of one machine.

    uv run python -m benchmarks.app_latency --dictations 10

Measures: hotkey press -> capture started; a word arriving at the app -> its text in the
window; hotkey release -> last word in the window (scripted server; and through the proxy
and double, the double's model delay included); hotkey release -> the proxy's ``end`` sent and
the backend slot released (proxy and double); CPU and memory idle and while dictating.
Prints a table and writes JSON to bench-results/app_latency.json. Figures, not assertions.

    uv run python -m benchmarks.app_latency --model-only --model stt-2.6b-en --step-ms 20

``--model`` picks the double's model (delay, Steps) and the proxy's; ``--step-ms`` the double's
model step time (80 ms: a GPU that just keeps up with real time; less: a faster one).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import re
import statistics
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from app.core.settings import BackendKind, BackendSettings, Settings
from app.desktop import settings_store
from server.models import MODELS, STT_1B, ModelProfile
from server.proxy.config import ProxyConfig
from server.proxy.server import ProxyServer
from tests.support.desktop import (
    Desktop,
    Process,
    desktop,
    running_app,
    target_window,
)
from tests.support.moshi_double import DoubleConfig, MoshiDouble
from tests.support.proc import cpu_seconds, rss_mib
from tests.support.scripted_stream import scripted_stream
from tests.support.speech import SENTENCES, speech, write_wav

ROOT = Path(__file__).resolve().parents[1]
WORDS = [f" word{i}" for i in range(40)]
_KEY = re.compile(r"hotkey (start|stop|toggle) \(key event at ([\d.]+)\)")
_CAPTURE = re.compile(r"capture started at ([\d.]+)")


@dataclass
class Figures:
    press_to_capture: list[float] = field(default_factory=list)
    word_to_window: list[float] = field(default_factory=list)  # words spoken while held
    burst_to_window: list[float] = field(default_factory=list)  # words flushed at release
    release_to_last_word: list[float] = field(default_factory=list)
    release_to_last_word_model: list[float] = field(default_factory=list)
    release_to_end_model: list[float] = field(default_factory=list)
    model_name: str = ""
    step_ms: float = 0.0
    model_delay: float = 0.0
    cpu: dict[str, float] = field(default_factory=dict)
    rss_mib: dict[str, float] = field(default_factory=dict)


class WindowTimes:
    """When the target window's text reached each length (from its TARGET_WINDOW_TIMES log)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def entries(self) -> list[tuple[float, int]]:
        if not self.path.exists():
            return []
        rows = [line.split() for line in self.path.read_text().splitlines()]
        return [(float(t), int(n)) for t, n in rows]

    def when_length(self, length: int) -> float | None:
        return next((t for t, n in self.entries() if n >= length), None)


async def wait_until(condition: Any, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("benchmark step timed out")
        await asyncio.sleep(0.01)


async def scripted_runs(d: Desktop, home: Path, runs: int, figures: Figures) -> None:
    times = WindowTimes(home / "window-times.txt")
    env = {**d.env, "TARGET_WINDOW_TIMES": str(times.path)}
    typed = home / "typed.txt"
    async with scripted_stream(WORDS, frames_per_word=2) as script:
        settings_store.save(Settings(BackendSettings(BackendKind.PROXY, url=script.url)), d.config)
        async with (
            target_window(env, typed),
            running_app(d) as app,
        ):
            pid = app.process.pid
            await asyncio.sleep(3.0)  # settle after start-up
            idle_from, t0 = cpu_seconds(pid), time.monotonic()
            await asyncio.sleep(20.0)
            figures.cpu["idle"] = (cpu_seconds(pid) - idle_from) / (time.monotonic() - t0)
            figures.rss_mib["idle"] = rss_mib(pid)
            busy_cpu = busy_wall = 0.0
            for _ in range(runs):
                if app.process.returncode is not None:
                    raise RuntimeError(f"the app exited:\n{app.output[-4000:]}")
                length_before = len(typed.read_text()) if typed.exists() else 0
                sent_before = len(script.sent_at)
                mark = app.mark()
                cpu_from, wall_from = cpu_seconds(pid), time.monotonic()
                d.xdotool("keydown", "F9")
                await app.wait_for_line("capture started at", after=mark)
                await asyncio.sleep(2.0)  # half the words arrive while the key is held
                released = time.monotonic()
                d.xdotool("keyup", "F9")
                expected = length_before + len("".join(WORDS)) - 1  # first word: no space
                await wait_until(lambda e=expected: times.when_length(e) is not None)
                if app.process.returncode is not None:
                    raise RuntimeError(f"the app exited:\n{app.output[-4000:]}")
                busy_cpu += cpu_seconds(pid) - cpu_from
                busy_wall += time.monotonic() - wall_from
                figures.press_to_capture.append(_press_to_capture(app, mark))
                last = times.when_length(expected)
                assert last is not None
                figures.release_to_last_word.append(last - released)
                length = length_before
                for index, sent in enumerate(script.sent_at[sent_before:]):
                    length += len(WORDS[index]) - (1 if index == 0 else 0)
                    arrived = times.when_length(length)
                    if arrived is not None:
                        held = sent < released
                        rows = figures.word_to_window if held else figures.burst_to_window
                        rows.append(arrived - sent)
                figures.rss_mib["after dictating"] = rss_mib(pid)
                await asyncio.sleep(0.5)
                d.xdotool("key", "Return")  # the next dictation on a new line
            figures.cpu["dictating"] = busy_cpu / busy_wall


def _press_to_capture(app: Process, mark: int) -> float:
    lines = app.lines[mark:]
    key = next(float(m[2]) for line in lines if (m := _KEY.search(line)) and m[1] != "stop")
    started = next(float(m[1]) for line in lines if (m := _CAPTURE.search(line)))
    return started - key


class StreamEnds(logging.Handler):
    """When the proxy finished each stream (``end`` sent, backend slot released), monotonic."""

    def __init__(self) -> None:
        super().__init__()
        self.times: list[float] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.getMessage() == "stream closed" and getattr(record, "outcome", "") == "end":
            self.times.append(time.monotonic())


async def model_runs(
    d: Desktop, home: Path, runs: int, figures: Figures, model: ModelProfile, step_seconds: float
) -> None:
    """Speech through the proxy and the double, a model stepping every ``step_seconds``."""
    speech_dir = home / "speech"
    speech_dir.mkdir(exist_ok=True)
    wav = home / "speech.wav"
    write_wav(wav, speech(SENTENCES[:1], speech_dir, gap_seconds=0.0))
    times = WindowTimes(home / "window-times-model.txt")
    env = {**d.env, "TARGET_WINDOW_TIMES": str(times.path)}
    typed = home / "typed-model.txt"
    config = DoubleConfig(
        list(SENTENCES),
        delay_frames=model.delay_frames,
        extra_heads=model.has_vad,
        step_seconds=step_seconds,
    )
    figures.model_delay = model.delay_seconds
    figures.model_name, figures.step_ms = model.name, step_seconds * 1000
    ends = StreamEnds()
    proxy_log = logging.getLogger("kyutai_dictate.proxy")
    proxy_log.addHandler(ends)
    proxy_log.setLevel(logging.INFO)
    async with (
        MoshiDouble(config) as double,
        ProxyServer(ProxyConfig(port=0, backend_url=double.url, model=model)) as proxy,
    ):
        settings_store.save(Settings(BackendSettings(BackendKind.PROXY, url=proxy.url)), d.config)
        async with (
            target_window(env, typed),
            running_app(d) as app,
        ):
            for _ in range(runs):
                before = len(typed.read_text()) if typed.exists() else 0
                ended_before = len(ends.times)
                mark = app.mark()
                d.xdotool("keydown", "F9")
                await app.wait_for_line("capture started at", after=mark)
                await asyncio.to_thread(d.mic.play, wav)
                released = time.monotonic()
                d.xdotool("keyup", "F9")
                expected = before + len(SENTENCES[0])
                await wait_until(lambda e=expected: times.when_length(e) is not None)
                last = times.when_length(expected)
                assert last is not None
                figures.release_to_last_word_model.append(last - released)
                await wait_until(lambda n=ended_before: len(ends.times) > n)
                figures.release_to_end_model.append(ends.times[ended_before] - released)
                await asyncio.sleep(0.5)
                d.xdotool("key", "Return")


def summary(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {
        "n": len(ordered),
        "min_ms": ordered[0] * 1000,
        "median_ms": statistics.median(ordered) * 1000,
        "p95_ms": ordered[max(0, round(0.95 * len(ordered)) - 1)] * 1000,
        "max_ms": ordered[-1] * 1000,
    }


def report(figures: Figures) -> dict[str, Any]:
    rows = {
        "hotkey press -> capture started": figures.press_to_capture,
        "word at the app -> text in the window (while held)": figures.word_to_window,
        "word at the app -> in the window (flushed at release)": figures.burst_to_window,
        "release -> last word typed (scripted server)": figures.release_to_last_word,
        "release -> last word typed (proxy + double)": figures.release_to_last_word_model,
        "release -> end sent, slot released (proxy + double)": figures.release_to_end_model,
    }
    result: dict[str, Any] = {name: summary(v) for name, v in rows.items() if v}
    print(f"{'':64} {'n':>4} {'min':>8} {'median':>8} {'p95':>8} {'max':>8}  (ms)")
    for name, row in result.items():
        print(
            f"{name:64} {row['n']:>4} {row['min_ms']:>8.1f} {row['median_ms']:>8.1f} "
            f"{row['p95_ms']:>8.1f} {row['max_ms']:>8.1f}"
        )
    if figures.model_delay:
        print(
            f"(proxy + double: {figures.model_name}, model delay {figures.model_delay:.2f} s, "
            f"a model step every {figures.step_ms:g} ms)"
        )
    for state, share in figures.cpu.items():
        print(f"CPU {state}: {share * 100:.2f} % of one core")
    for state, mib in figures.rss_mib.items():
        print(f"memory (RSS) {state}: {mib:.0f} MiB")
    result["model"] = figures.model_name
    result["step_ms"] = figures.step_ms
    result["model_delay_s"] = figures.model_delay
    result["cpu_share_of_one_core"] = figures.cpu
    result["rss_mib"] = figures.rss_mib
    return result


async def main_async(args: argparse.Namespace) -> None:
    figures = Figures()
    runs: int = args.dictations
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        with desktop(home / "home", 88) as d:
            if not args.model_only:
                await scripted_runs(d, home, runs, figures)
            model_dictations = runs if args.model_only else max(1, runs // 2)
            step = args.step_ms / 1000
            await model_runs(d, home, model_dictations, figures, MODELS[args.model], step)
    write_json(args.output, report(figures))


def write_json(output: Path, result: dict[str, Any]) -> None:
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(result, indent=2))
    print(f"wrote {output}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dictations", type=int, default=10, help="scripted dictations")
    parser.add_argument("--output", type=Path, default=ROOT / "bench-results/app_latency.json")
    parser.add_argument("--model", choices=list(MODELS), default=STT_1B.name, help="the double's")
    parser.add_argument("--step-ms", type=float, default=80.0, help="the double's model step")
    parser.add_argument(
        "--model-only", action="store_true", help="only the proxy + double dictations"
    )
    args = parser.parse_args()
    asyncio.run(main_async(args))


if __name__ == "__main__":
    main()
