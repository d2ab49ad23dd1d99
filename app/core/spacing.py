"""What to type for each word of a dictation.

The model's words come with a leading space (``" Hello"``) and with its own capitals and
punctuation, which are kept as they are. Only the very first word of a dictation loses its
space, unless the user wants one (to continue after text already in the window). A word that
comes without a leading space (the original service sends them so) gets one.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Spacer:
    """Turns the tokens of one dictation into the text to type, in order."""

    leading_space: bool = False
    _typed_any: bool = False

    def text_for(self, token: str) -> str:
        """The text to type for ``token`` (may be empty for a blank token)."""
        if not token.strip():
            return ""
        if not self._typed_any:
            self._typed_any = True
            body = token.lstrip()
            return f" {body}" if self.leading_space else body
        return spaced(token)


def spaced(word: str) -> str:
    """``word`` with a leading space, as this project's proxy sends words (the original
    service sends them without)."""
    return word if word[:1].isspace() else f" {word}"
