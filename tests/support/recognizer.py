"""Streaming word recogniser for the moshi-server test double.

PocketSphinx with a JSGF grammar of the test sentences recognises espeak-ng speech exactly, so
the words the double sends come from the audio it received: lost, duplicated or reordered audio
changes them. Frames are fed as they are processed, and words come out while audio flows, as
moshi's do: a word is final once the next word has begun (in a partial hypothesis that the
grammar allows and that agrees with the words already given out), and the rest of an
utterance once it ends after a short silence. That last part is decoded again in one go, which
is exact where the streaming search can stumble.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
from pocketsphinx import Decoder

from server.protocol.audio import FRAME_SECONDS

SPEECH_RMS = 0.01  # about -40 dBFS
ENDPOINT_FRAMES = 6  # 0.48 s of silence ends an utterance
PS_FRAME_SECONDS = 0.01  # PocketSphinx reports times in 10 ms frames
PAUSE_SECONDS = (0.5, 1.0, 2.0, 3.0)  # what moshi's four pause heads predict
# Cepstral means of espeak-ng speech (measured over the test sentences). Streaming decoding
# normalises with running means; from PocketSphinx's defaults the first sentence is lost.
ESPEAK_CMN = "45.18,-0.71,-4.33,20.33,-10.10,-0.70,-3.56,-17.40,-0.15,-11.44,9.82,-6.56,-3.31"


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


class _Sentences:
    """Which word sequences the grammar allows as the start of an utterance."""

    def __init__(self, sentences: list[str]) -> None:
        self._sentences = [normalize(s).split() for s in sentences]

    def allows_prefix(self, words: list[str]) -> bool:
        starts = {(i, 0) for i in range(len(self._sentences))}
        states = set(starts)
        for word in words:
            following: set[tuple[int, int]] = set()
            for i, position in states:
                sentence = self._sentences[i]
                if sentence[position] == word:
                    following |= starts if position + 1 == len(sentence) else {(i, position + 1)}
            if not following:
                return False
            states = following
        return True


def _decoder(sentences: list[str], **options: str) -> Decoder:
    decoder = Decoder(lm=None, loglevel="FATAL", **options)
    decoder.add_jsgf_string("dictation", grammar(sentences))
    decoder.activate_search("dictation")
    return decoder


class StreamRecognizer:
    """Per-stream recogniser; reuse it across streams with :meth:`reset`."""

    def __init__(self, sentences: list[str]) -> None:
        self._grammar = _Sentences(sentences)
        self._streaming = _decoder(sentences, cmn="live", cmninit=ESPEAK_CMN)
        self._whole = _decoder(sentences)
        self._in_utterance = False
        self.reset()

    def reset(self) -> None:
        """Start a new stream at time 0."""
        self._frames = 0
        self._speech_seen_ever = False
        self._silent_frames = 0
        self._start_utterance()

    def _start_utterance(self) -> None:
        if self._in_utterance:
            self._streaming.end_utt()
        self._streaming.start_utt()
        self._in_utterance = True
        self._utt_start_frame = self._frames
        self._utterance: list[np.ndarray] = []
        self._given: list[str] = []  # words of this utterance already final
        self._heard_speech = False

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
        """Process one 1920-sample frame; return the words that became final with it."""
        pcm = _to_16k_int16(frame)
        self._streaming.process_raw(pcm, False, False)
        self._utterance.append(frame)
        self._frames += 1
        if float(np.sqrt(np.mean(np.square(frame, dtype=np.float64)))) >= SPEECH_RMS:
            self._heard_speech = self._speech_seen_ever = True
            self._silent_frames = 0
        else:
            self._silent_frames += 1
            if self._heard_speech and self._silent_frames >= ENDPOINT_FRAMES:
                return self._end_utterance()
        if self._streaming.hyp() is None:
            return []
        hypothesis = self._words(self._streaming)
        if not self._agrees(hypothesis):
            return []
        return self._give(hypothesis[len(self._given) : -1])  # the last word may still change

    def _end_utterance(self) -> list[RecognizedWord]:
        # The whole utterance again in one go (batch normalisation: exact on the test speech).
        self._whole.start_utt()
        self._whole.process_raw(_to_16k_int16(np.concatenate(self._utterance)), False, True)
        self._whole.end_utt()
        self._streaming.end_utt()
        self._in_utterance = False
        final = self._words(self._whole)
        if not self._agrees(final):
            final = self._words(self._streaming)
        words = self._give(final[len(self._given) :]) if self._agrees(final) else []
        self._start_utterance()
        return words

    def _agrees(self, hypothesis: list[RecognizedWord]) -> bool:
        texts = [w.text for w in hypothesis]
        return texts[: len(self._given)] == self._given and self._grammar.allows_prefix(texts)

    def _give(self, words: list[RecognizedWord]) -> list[RecognizedWord]:
        self._given += [w.text for w in words]
        return words

    def _words(self, decoder: Decoder) -> list[RecognizedWord]:
        offset = self._utt_start_frame * FRAME_SECONDS
        return [
            RecognizedWord(
                re.sub(r"\(\d+\)$", "", seg.word),
                round(offset + seg.start_frame * PS_FRAME_SECONDS, 3),
                round(offset + (seg.end_frame + 1) * PS_FRAME_SECONDS, 3),
            )
            for seg in decoder.seg() or []
            if not seg.word.startswith(("<", "[", "("))  # silences, fillers, grammar nodes
        ]
