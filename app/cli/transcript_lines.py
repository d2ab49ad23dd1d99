"""Live transcript text for a terminal (pure): words on a line, one line per utterance.

With voice edits (app/core/voice_edits.py), "new line" starts a new line and "scratch that"
reprints the current line without the scratched words (carriage return, erase the line); a
terminal cannot reach back into lines already ended.
"""

from __future__ import annotations

from collections.abc import Iterable

from app.core.voice_edits import DeleteEdit, Edit, Key, PressEdit, StopEdit, TypeEdit, VoiceEdits

REPRINT = "\r\x1b[2K"  # back to the line's start and erase it


class TranscriptLines:
    """Turns tokens and ``vad_end`` into the text to print, tracking the open line.

    ``edits``: the voice edits to apply; None prints the words as spoken.
    """

    def __init__(self, edits: VoiceEdits | None = None) -> None:
        self._edits = edits
        self._line = ""
        self._line_open = False
        self._last_start = 0.0
        self.stop_requested = False  # "stop dictation" was said

    def token(self, text: str, start: float | None = None) -> str:
        """Text to print for a token (which carries its own leading space)."""
        if self._edits is None:
            return self._type(text)
        self._last_start = self._last_start if start is None else start
        return self._render(self._edits.word(text, self._last_start))

    def vad_end(self) -> str:
        """End the current utterance's line (nothing if no line is open)."""
        held = "" if self._edits is None else self._render(self._edits.vad_end())
        return held + self._end_line()

    def finish(self) -> str:
        """The words still held, and the final newline if a line is open."""
        held = "" if self._edits is None else self._render(self._edits.finish())
        return held + self._end_line()

    def _type(self, text: str) -> str:
        if not self._line_open:
            text = text.lstrip(" ")
        if text:
            self._line_open = True
            self._line += text
        return text

    def _end_line(self) -> str:
        if not self._line_open:
            return ""
        self._line_open, self._line = False, ""
        return "\n"

    def _render(self, edits: Iterable[Edit]) -> str:
        out = []
        for edit in edits:
            match edit:
                case TypeEdit(text):
                    out.append(self._type(text))
                case PressEdit(Key.TAB):
                    out.append(self._type("\t"))
                case PressEdit():
                    self._line_open = True
                    out.append(self._end_line())
                case DeleteEdit(count):
                    self._line = self._line[: max(0, len(self._line) - count)]
                    self._line_open = bool(self._line)
                    out.append(REPRINT + self._line)
                case StopEdit():
                    self.stop_requested = True
        return "".join(out)
