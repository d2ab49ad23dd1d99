"""Streaming word recogniser for the moshi-server test double.

PocketSphinx with a JSGF grammar of the test sentences recognises espeak-ng speech exactly, so
the words the double sends come from the audio it received: lost, duplicated or reordered audio
changes them. Frames are fed as they are processed; an utterance ends after a short silence,
is decoded, and its words come out with their times in the stream.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import numpy as np
from pocketsphinx import Decoder

from server.protocol.audio import FRAME_SECONDS

SPEECH_RMS = 0.01  # about -40 dBFS
ENDPOINT_FRAMES = 6  # 0.48 s of silence ends an utterance
PS_FRAME_SECONDS = 0.01  # PocketSphinx reports times in 10 ms frames
PAUSE_SECONDS = (0.5, 1.0, 2.0, 3.0)  # what moshi's four pause heads predict


@dataclass(frozen=True)
class RecognizedWord:
    text: str
    start: float
    end: float


def grammar(sentences: list[str]) -> str:
    """A JSGF grammar accepting any sequence of the given sentences."""
    alternatives = " | ".join(f"( {normalize(s)} )" for s in sentences)
    return (
        "#JSGF V1.0;\ngrammar dictation;\n"
        f"public <speech> = <sentence>+;\n<sentence> = {alternatives};\n"
    )


def normalize(sentence: str) -> str:
    """Lower-case words without punctuation, as the recogniser's dictionary spells them."""
    return " ".join(re.findall(r"[a-z']+", sentence.lower()))


def _to_16k_int16(samples: np.ndarray) -> bytes:
    """24 kHz float samples -> 16 kHz int16 bytes, band-limited (FFT resampling)."""
    n_out = len(samples) * 2 // 3
    spectrum = np.fft.rfft(samples)[: n_out // 2 + 1]
    resampled = np.fft.irfft(spectrum, n_out) * (n_out / len(samples))
    return (np.clip(resampled, -1, 1) * 32767).astype("<i2").tobytes()


class StreamRecognizer:
    """Per-stream recogniser; reuse it across streams with :meth:`reset`."""

    def __init__(self, sentences: list[str]) -> None:
        self._decoder = Decoder(lm=None, loglevel="FATAL")
        self._decoder.add_jsgf_string("dictation", grammar(sentences))
        self._decoder.activate_search("dictation")
        self.reset()

    def reset(self) -> None:
        """Start a new stream at time 0."""
        self._frames = 0
        self._utt_start_frame = 0
        self._utterance: list[np.ndarray] = []
        self._heard_speech = False
        self._silent_frames = 0
        self._speech_seen_ever = False

    @property
    def trailing_silence(self) -> float:
        """Seconds of silence since the last speech (0 before any speech)."""
        return self._silent_frames * FRAME_SECONDS if self._speech_seen_ever else 0.0

    def pause_probabilities(self) -> tuple[float, float, float, float]:
        """Stand-in for moshi's pause heads: confident once half of each pause has elapsed."""
        silence = self.trailing_silence
        p = tuple(0.95 if silence >= pause / 2 else 0.05 for pause in PAUSE_SECONDS)
        return (p[0], p[1], p[2], p[3])

    def feed(self, frame: np.ndarray) -> list[RecognizedWord]:
        """Process one 1920-sample frame; return the words of an utterance that just ended."""
        self._utterance.append(frame)
        self._frames += 1
        if float(np.sqrt(np.mean(np.square(frame, dtype=np.float64)))) >= SPEECH_RMS:
            self._heard_speech = self._speech_seen_ever = True
            self._silent_frames = 0
            return []
        self._silent_frames += 1
        if self._heard_speech and self._silent_frames >= ENDPOINT_FRAMES:
            return self._end_utterance()
        return []

    def _end_utterance(self) -> list[RecognizedWord]:
        # Decoded in one go: PocketSphinx decoders interleaved frame by frame in one process
        # disturb each other (measured: one of three concurrent streams lost all its words).
        self._decoder.start_utt()
        self._decoder.process_raw(_to_16k_int16(np.concatenate(self._utterance)), full_utt=True)
        self._decoder.end_utt()
        offset = self._utt_start_frame * FRAME_SECONDS
        words = [
            RecognizedWord(
                re.sub(r"\(\d+\)$", "", seg.word),
                round(offset + seg.start_frame * PS_FRAME_SECONDS, 3),
                round(offset + (seg.end_frame + 1) * PS_FRAME_SECONDS, 3),
            )
            for seg in self._decoder.seg() or []
            if not seg.word.startswith(("<", "["))
        ]
        self._utt_start_frame = self._frames
        self._utterance = []
        self._heard_speech = False
        return words


def emit_step(word: RecognizedWord, delay_frames: int) -> int:
    """First model step at which a word may be sent: ``delay`` frames after its audio ends."""
    return math.ceil(word.end / FRAME_SECONDS) + delay_frames
