"""The commands a running app takes from ``kyutai-dictate COMMAND`` (desktop shortcuts).

Declared once: the command line offers each as a subcommand with its help text, the control
socket accepts exactly these, and the app carries each one out.
"""

from __future__ import annotations

from enum import StrEnum


class RemoteCommand(StrEnum):
    """A command for the running app; its value is the word sent on the control socket."""

    help: str  # one line for ``kyutai-dictate --help``

    def __new__(cls, word: str, help: str) -> RemoteCommand:
        member = str.__new__(cls, word)
        member._value_ = word
        member.help = help
        return member

    @classmethod
    def named(cls, word: str) -> RemoteCommand:
        """The command whose word is ``word``; :class:`ValueError` if there is none."""
        for command in cls:
            if command.value == word:
                return command
        raise ValueError(f"unknown command {word[:40]!r}; one of {', '.join(cls)}")

    TOGGLE = "toggle", "start or stop dictating in the running app"
    START = "start", "start dictating in the running app"
    STOP = "stop", "stop dictating in the running app"
    SHOW = "show", "show the running app (a second launch does the same)"
    TYPE_HELD = "type-held", "type the words the focus guard held back, into the focused window"
    COPY_HELD = "copy-held", "copy the words the focus guard held back to the clipboard"
    SHOW_HISTORY = "show-history", "open the History window of the running app"
    QUIT = "quit", "quit the running app"
