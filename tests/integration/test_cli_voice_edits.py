"""Voice commands and your own words through `kyutai-dictate transcribe` and `words`, as
processes, against the scripted /v1/stream server (exact words and ``start`` times)."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import numpy as np

from app.cli.transcript_lines import REPRINT
from tests.support.scripted_stream import scripted_stream
from tests.support.speech import SAMPLE_RATE, write_wav

ROOT = Path(__file__).resolve().parents[2]


async def cli(*args: str) -> subprocess.CompletedProcess[str]:
    """Run the CLI; its output decoded as written (no newline translation: "\r" is kept)."""
    command = [sys.executable, "-m", "app", *args]
    done = await asyncio.to_thread(
        subprocess.run, command, cwd=ROOT, capture_output=True, timeout=120
    )
    out, err = done.stdout.decode(), done.stderr.decode()
    return subprocess.CompletedProcess(done.args, done.returncode, out, err)


def timed(*phrases: str) -> tuple[list[str], list[float]]:
    """Words 0.3 s apart inside a phrase, phrases 1 s apart (a pause)."""
    words, starts, t = [], [], 0.0
    for phrase in phrases:
        for word in phrase.split():
            words.append(f" {word}")
            starts.append(t)
            t += 0.3
        t += 0.7
    return words, starts


def terminal(printed: str) -> str:
    """What a terminal shows: a reprint erases its line."""
    return "\n".join(line.rsplit(REPRINT, 1)[-1] for line in printed.split("\n"))


async def transcribe(tmp_path: Path, phrases: tuple[str, ...], *options: str) -> str:
    wav = write_wav(tmp_path / "audio.wav", np.zeros(SAMPLE_RATE, dtype=np.float32))
    words, starts = timed(*phrases)
    async with scripted_stream(words, frames_per_word=1, starts=starts) as script:
        done = await cli(
            "transcribe", "--url", script.url, "--file", str(wav), "--rtf", "0", *options
        )
    assert done.returncode == 0, done.stderr
    return done.stdout


async def test_new_line_starts_a_new_line(tmp_path: Path) -> None:
    out = await transcribe(
        tmp_path, ("hello", "new line", "world"), "--config", str(tmp_path / "c.toml")
    )
    assert out == "hello\nworld\n"


async def test_new_line_inside_a_sentence_is_printed(tmp_path: Path) -> None:
    out = await transcribe(
        tmp_path, ("a new line of products",), "--config", str(tmp_path / "c.toml")
    )
    assert out == "a new line of products\n"


async def test_scratch_that_reprints_the_line(tmp_path: Path) -> None:
    phrases = ("first sentence. second sentence", "scratch that", "third")
    out = await transcribe(tmp_path, phrases, "--config", str(tmp_path / "c.toml"))
    assert REPRINT in out
    assert terminal(out) == "first sentence. third\n"


async def test_raw_prints_the_words_as_spoken(tmp_path: Path) -> None:
    out = await transcribe(tmp_path, ("hello", "new line", "world"), "--raw")
    assert out == "hello new line world\n"


async def test_french_commands(tmp_path: Path) -> None:
    phrases = ("Bonjour", "à la ligne", "le monde", "efface ça", "Salut")
    out = await transcribe(tmp_path, phrases, "--config", str(tmp_path / "c.toml"))
    assert terminal(out) == "Bonjour\nSalut\n"


async def test_a_rule_added_with_words_replaces_two_words(tmp_path: Path) -> None:
    config = str(tmp_path / "config.toml")
    added = await cli("words", "--config", config, "add", "pie torch", "PyTorch")
    assert added.returncode == 0, added.stderr
    assert (tmp_path / "words.txt").read_text().endswith("pie torch -> PyTorch\n")
    out = await transcribe(tmp_path, ("I like Pie torch, really",), "--config", config)
    assert out == "I like PyTorch, really\n"


async def test_words_import_export_list_remove(tmp_path: Path) -> None:
    config = str(tmp_path / "config.toml")
    source = tmp_path / "in.csv"
    source.write_text('spoken,text\nkyutai,Kyutai\n"my email","me@example.org"\n')
    imported = await cli("words", "--config", config, "import", str(source))
    assert imported.returncode == 0, imported.stderr
    listed = await cli("words", "--config", config, "list")
    assert listed.stdout == "kyutai -> Kyutai\nmy email -> me@example.org\n"
    removed = await cli("words", "--config", config, "remove", "KYUTAI")
    assert removed.returncode == 0, removed.stderr
    exported = await cli("words", "--config", config, "export", str(tmp_path / "out.txt"))
    assert exported.returncode == 0, exported.stderr
    assert (tmp_path / "out.txt").read_text() == "my email -> me@example.org\n"


async def test_a_bad_rules_file_is_refused_and_kept(tmp_path: Path) -> None:
    (tmp_path / "words.txt").write_text("kyutai -> Kyutai\nthis line has no arrow\n")
    config = str(tmp_path / "config.toml")
    added = await cli("words", "--config", config, "add", "a", "b")
    assert added.returncode != 0
    assert "line 2" in added.stderr
    assert "no arrow" in (tmp_path / "words.txt").read_text()  # nothing lost
    done = await cli("transcribe", "--url", "ws://127.0.0.1:9/v1/stream", "--config", config)
    assert done.returncode == 2
    assert "line 2" in done.stderr
