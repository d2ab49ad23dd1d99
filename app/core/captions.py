"""What the caption overlay shows of a dictation: the words as typed, and each voice command
as a labelled mark ("⏎ new line"), never as the words that said it. Pure; the overlay renders
it."""

from __future__ import annotations

from dataclasses import dataclass, field

from app.core.voice_edits import DeleteEdit, Edit, PressEdit, StopEdit, TypeEdit

MAX_CHARS = 600  # the caption keeps the end of a long dictation


@dataclass(frozen=True)
class Part:
    text: str
    command: bool = False  # a command's label, not typed text


@dataclass
class Captions:
    parts: list[Part] = field(default_factory=list)

    def clear(self) -> None:
        self.parts.clear()

    def apply(self, edit: Edit) -> None:
        match edit:
            case TypeEdit(text):
                self._add(Part(text))
            case DeleteEdit(count):
                self._delete(count)
                if edit.caption:
                    self._add(Part(edit.caption, command=True))
            case PressEdit(_, caption) | StopEdit(caption):
                if caption and not (self.parts and self.parts[-1] == Part(caption, True)):
                    self._add(Part(caption, command=True))  # "new paragraph" is two keys
        self._trim()

    @property
    def plain(self) -> str:
        """Everything shown, labels in brackets (for logs and tests)."""
        return "".join(f" [{p.text}] " if p.command else p.text for p in self.parts)

    def _add(self, part: Part) -> None:
        if self.parts and not part.command and not self.parts[-1].command:
            self.parts[-1] = Part(self.parts[-1].text + part.text)
        else:
            self.parts.append(part)

    def _delete(self, count: int) -> None:
        """The last ``count`` typed characters go (a scratch never crosses a command)."""
        while count and self.parts and not self.parts[-1].command:
            text = self.parts.pop().text
            kept = text[: max(0, len(text) - count)]
            count -= len(text) - len(kept)
            if kept:
                self.parts.append(Part(kept))

    def _trim(self) -> None:
        total = sum(len(p.text) for p in self.parts)
        while total > MAX_CHARS and self.parts:
            first = self.parts[0]
            extra = total - MAX_CHARS
            if first.command or len(first.text) <= extra:
                self.parts.pop(0)
                total -= len(first.text)
            else:
                self.parts[0] = Part(first.text[extra:])
                total -= extra
