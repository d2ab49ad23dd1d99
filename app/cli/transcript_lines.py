"""Live transcript text for a terminal (pure): words on a line, one line per utterance."""

from __future__ import annotations


class TranscriptLines:
    """Turns tokens and ``vad_end`` into the text to print, tracking whether a line is open."""

    def __init__(self) -> None:
        self._line_open = False

    def token(self, text: str) -> str:
        """Text to print for a token (which carries its own leading space)."""
        if not self._line_open:
            text = text.lstrip(" ")
        if text:
            self._line_open = True
        return text

    def vad_end(self) -> str:
        """End the current utterance's line (nothing if no line is open)."""
        return self.finish()

    def finish(self) -> str:
        """The final newline, if a line is open."""
        if not self._line_open:
            return ""
        self._line_open = False
        return "\n"
