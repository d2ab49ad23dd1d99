"""Benchmark: the delay voice commands and replacements add to each word (pure, no I/O).

A synthetic dictation: words every 0.25-0.45 s of audio, now and then a pause of 0.8-2 s,
some words that may begin a command or a rule ("new", "press", "scratch", "pie", ...) and
some commands said as phrases of their own. Each word reaches the app's dictation session
``--model-delay`` seconds after its ``start`` (the model's delay), and the session is ticked
when it asks to be (``tick_due``: a pause after the last word's arrival, plus a margin for
network jitter), as the app's driver does. A word's added delay is the time from its arrival
to the event that released it. Figures, not assertions.

    uv run python -m benchmarks.voice_edits_delay --words 20000
"""

from __future__ import annotations

import argparse
import random
import statistics

from app.core.session import DictationSession
from app.core.voice_edits import Rule, VoiceEditConfig
from server.protocol.stream import End, Ready, Token

PLAIN = ["the", "a", "we", "need", "to", "of", "products", "meeting", "today", "and", "line"]
STARTERS = ["new", "press", "scratch", "delete", "pie", "my", "stop", "à", "efface"]
PHRASES = ["new line", "scratch that", "press enter", "pie torch", "my email"]
RULES = [Rule("pie torch", "PyTorch"), Rule("kyutai", "Kyutai"), Rule("my email", "me@x.org")]


def synthetic(count: int, rng: random.Random) -> list[tuple[str, float]]:
    words: list[tuple[str, float]] = []
    t = 0.0
    while len(words) < count:
        roll = rng.random()
        if roll < 0.05:  # a command or rule as a phrase of its own
            t += rng.uniform(0.8, 2.0)
            for word in rng.choice(PHRASES).split():
                words.append((f" {word}", t))
                t += rng.uniform(0.25, 0.45)
            t += rng.uniform(0.8, 2.0)
            continue
        word = rng.choice(STARTERS) if roll < 0.15 else rng.choice(PLAIN)
        words.append((f" {word}", t))
        t += rng.uniform(0.8, 2.0) if rng.random() < 0.08 else rng.uniform(0.25, 0.45)
    return words


def added_delays(
    words: list[tuple[str, float]], config: VoiceEditConfig, delay: float
) -> list[float]:
    now = 0.0
    session = DictationSession(voice=config, clock=lambda: now)
    session.start()
    session.message(Ready())
    arrivals = [start + delay for _, start in words]
    released: list[float] = []

    def note() -> None:
        while len(released) < session.words_released:
            released.append(now - arrivals[len(released)])

    for (text, start), arrival in zip(words, arrivals, strict=True):
        due = session.tick_due
        if due is not None and due < arrival:
            now = due
            session.tick()
            note()
        now = arrival
        session.message(Token(text, start))
        note()
    now += delay
    session.stop()
    session.message(End())
    note()
    return released


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--words", type=int, default=20000)
    parser.add_argument("--model-delay", type=float, default=0.5)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    words = synthetic(args.words, random.Random(args.seed))
    for label, config in [
        ("off", VoiceEditConfig(commands=False)),
        ("on", VoiceEditConfig(rules=RULES)),
    ]:
        delays = added_delays(words, config, args.model_delay)
        held = [d for d in delays if d > 0]
        p95 = statistics.quantiles(delays, n=20)[-1]
        print(
            f"{label:>3}: {len(delays)} words, added delay median"
            f" {statistics.median(delays):.3f} s, p95 {p95:.3f} s, max {max(delays):.3f} s;"
            f" {len(held) / len(delays):.1%} held, their median"
            f" {statistics.median(held or [0.0]):.3f} s"
        )


if __name__ == "__main__":
    main()
