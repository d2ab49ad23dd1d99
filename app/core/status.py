"""What the tray icon and the overlay say: the app's state in one value (pure).

The dictation's phase, the last error and the hotkey's health become one of five looks
(idle, connecting, listening, finishing, error) and a line of text for tooltips.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from app.core.session import Phase


class Look(Enum):
    IDLE = "idle"
    CONNECTING = "connecting"
    LISTENING = "listening"
    FINISHING = "finishing"
    ERROR = "error"


_LOOKS = {
    Phase.IDLE: Look.IDLE,
    Phase.CONNECTING: Look.CONNECTING,
    Phase.STREAMING: Look.LISTENING,
    Phase.DRAINING: Look.FINISHING,
}

_TEXT = {
    Look.IDLE: "ready",
    Look.CONNECTING: "connecting to the backend (a cold GPU takes up to 30 s); speak, "
    "nothing is lost",
    Look.LISTENING: "listening",
    Look.FINISHING: "finishing: the last words are coming",
}


OLDER_PROTOCOL = "the server speaks the older protocol: the last words take a moment longer"


@dataclass(frozen=True)
class Status:
    phase: Phase = Phase.IDLE
    error: str | None = None  # the last failure, until the next dictation starts
    hotkey: str | None = None  # the chord; None when the global hotkey is unavailable
    hotkey_problem: str | None = None
    configured: bool = True
    older_protocol: bool = False  # the dictation's server is the original service
    hands_free: bool = False  # this dictation stops by itself when the speech ends

    @property
    def look(self) -> Look:
        if self.phase is Phase.IDLE and (self.error or not self.configured):
            return Look.ERROR
        return _LOOKS[self.phase]

    def describe(self) -> str:
        """One line for the tray tooltip."""
        if self.phase is Phase.IDLE and self.error:
            return f"error: {self.error}"
        if self.phase is Phase.IDLE and not self.configured:
            return "no backend configured: open Settings"
        text = _TEXT[self.look]
        if self.hands_free and self.phase in (Phase.CONNECTING, Phase.STREAMING):
            text += " (hands-free: it stops when you stop speaking)"
        if self.older_protocol and self.phase in (Phase.STREAMING, Phase.DRAINING):
            text += f" ({OLDER_PROTOCOL})"
        if self.phase is Phase.IDLE:
            if self.hotkey_problem:
                text += f"; hotkey unavailable ({self.hotkey_problem})"
            elif self.hotkey:
                text += f"; hold {self.hotkey} to dictate"
        return text
