"""The space before a word.

The model's words come with a leading space (``" Hello"``) and with its own capitals and
punctuation, which are kept as they are. A word that comes without a leading space (the
original service sends them so) gets one; the first word of a dictation or a line loses its
space (:mod:`app.core.voice_edits`), unless the user wants one to continue a sentence.
"""

from __future__ import annotations


def spaced(word: str) -> str:
    """``word`` with a leading space, as this project's proxy sends words (the original
    service sends them without)."""
    return word if word[:1].isspace() else f" {word}"
