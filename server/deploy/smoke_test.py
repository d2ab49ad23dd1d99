"""Smoke test of a deployed backend: stream a spoken sentence, expect words and ``end``.

    python -m server.deploy.smoke_test --url ws://127.0.0.1:8000/v1/stream --token-file F

Speech comes from espeak-ng and sox (installed with the backend), or from ``--wav`` (16-bit
mono 24 kHz). Exits 0 when at least one word came back, 1 otherwise, saying why.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import tempfile
import time
import wave
from pathlib import Path

import numpy as np
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import InvalidStatus

from server.protocol import stream
from server.protocol.audio import FRAME_SAMPLES, FRAME_SECONDS, SAMPLE_RATE

SENTENCE = "the quick brown fox jumps over the lazy dog"


def spoken_sentence(text: str = SENTENCE) -> np.ndarray:
    """``text`` spoken by espeak-ng, as 24 kHz float32 samples."""
    with tempfile.TemporaryDirectory() as folder:
        raw, wav = Path(folder, "raw.wav"), Path(folder, "speech.wav")
        subprocess.run(["espeak-ng", "-v", "en-us", "-w", str(raw), text], check=True)
        sox = ["sox", str(raw), "-r", str(SAMPLE_RATE), "-c", "1", "-b", "16", str(wav)]
        subprocess.run(sox, check=True)
        return read_wav(wav)


def read_wav(path: Path) -> np.ndarray:
    with wave.open(str(path)) as w:
        if (w.getframerate(), w.getnchannels(), w.getsampwidth()) != (SAMPLE_RATE, 1, 2):
            raise ValueError(f"{path}: need 16-bit mono {SAMPLE_RATE} Hz")
        return np.frombuffer(w.readframes(w.getnframes()), "<i2").astype(np.float32) / 32768


async def connect_when_up(
    url: str, headers: dict[str, str] | None, wait: float
) -> ClientConnection:
    """Connect, retrying for up to ``wait`` seconds while nothing listens yet (a fresh
    deployment downloads and warms up its model before the proxy opens its port)."""
    deadline = time.monotonic() + wait
    announced = False
    while True:
        try:
            return await connect(url, additional_headers=headers, open_timeout=60)
        except OSError:
            if time.monotonic() >= deadline:
                raise
            if not announced:
                print(f"smoke test: waiting for {url} to come up", file=sys.stderr)
                announced = True
            await asyncio.sleep(2)


async def transcribe(
    url: str, token: str | None, audio: np.ndarray, wait: float = 0.0
) -> list[str]:
    """Stream ``audio`` in real time and return the words, in order, until ``end``."""
    headers = {"Authorization": f"Bearer {token}"} if token else None
    words: list[str] = []
    async with await connect_when_up(url, headers, wait) as ws:
        for start in range(0, len(audio), FRAME_SAMPLES):
            await ws.send(audio[start : start + FRAME_SAMPLES].astype("<f4").tobytes())
            await asyncio.sleep(FRAME_SECONDS)
        await ws.send(stream.encode_client(stream.EndOfAudio()))
        async for data in ws:
            message = stream.decode_server(data)
            if isinstance(message, stream.Token):
                words.append(message.text.strip())
            elif isinstance(message, stream.Error):
                raise RuntimeError(f"backend error ({message.code}): {message.message}")
            elif isinstance(message, stream.End):
                return words
    raise RuntimeError("the connection closed before end")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--token-file", type=Path)
    parser.add_argument("--wav", type=Path, help="speech to send instead of espeak-ng's")
    parser.add_argument(
        "--wait", type=float, default=0.0, help="seconds to wait for the endpoint to come up"
    )
    args = parser.parse_args()
    token = args.token_file.read_text().strip() if args.token_file else None
    try:
        audio = read_wav(args.wav) if args.wav else spoken_sentence()
        words = asyncio.run(transcribe(args.url, token, audio, args.wait))
    except InvalidStatus as exc:
        print(f"smoke test: HTTP {exc.response.status_code} from {args.url}", file=sys.stderr)
        return 1
    except (OSError, RuntimeError, ValueError, subprocess.CalledProcessError) as exc:
        print(f"smoke test: {exc}", file=sys.stderr)
        return 1
    print(json.dumps({"words": words}))
    if not words:
        print("smoke test: no words came back", file=sys.stderr)
        return 1
    print(f"smoke test: ok, {len(words)} words", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
