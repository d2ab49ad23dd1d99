"""Smoke test of a deployed backend: stream a spoken sentence, expect words and ``end``.

    python -m server.deploy.smoke_test --url ws://127.0.0.1:8000/v1/stream --token-file F

First asks the proxy's ``/healthz`` whether a stream would work (a stalled moshi-server is
reported as such, without streaming). Speech comes from espeak-ng and sox (installed with the
backend), or from ``--wav`` (16-bit mono 24 kHz). Exits 0 when at least one word came back,
1 otherwise, saying why.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import wave
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

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


def health_url(stream_url: str) -> str:
    """``ws://host:port/v1/stream`` -> ``http://host:port/healthz``."""
    url = urlsplit(stream_url)
    return urlunsplit(("https" if url.scheme == "wss" else "http", url.netloc, "/healthz", "", ""))


def fetch_health(stream_url: str, headers: dict[str, str] | None = None) -> dict[str, object]:
    """The endpoint's ``/healthz`` answer (``status`` is ``ok`` when a stream would work).

    Raises OSError when nothing answers, ValueError when the answer is not this project's.
    """
    request = urllib.request.Request(health_url(stream_url), headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            body = response.read()
    except urllib.error.HTTPError as exc:
        body = exc.read()
        if exc.code not in (200, 503):
            raise ValueError(f"/healthz answered HTTP {exc.code}") from None
    try:
        answer = json.loads(body)
    except ValueError:
        raise ValueError("/healthz did not answer JSON") from None
    if not isinstance(answer, dict) or "status" not in answer:
        raise ValueError("/healthz did not say a status")
    return answer


def describe_health(health: dict[str, object]) -> str:
    """One line: the status, the backend's slots, and the reason when not ok."""
    text = str(health["status"])
    if "used_slots" in health:
        text += f" ({health['used_slots']} of {health['total_slots']} backend slots in use)"
    if health.get("detail"):
        text += f": {health['detail']}"
    return text


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
        health = fetch_health(args.url)
    except (OSError, ValueError):
        pass  # still starting (--wait), or not this project's proxy: the stream will tell
    else:
        if health["status"] != "ok":
            print(f"smoke test: backend not healthy: {describe_health(health)}", file=sys.stderr)
            return 1
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
