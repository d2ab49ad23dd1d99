"""Hotkey chords and push-to-talk logic, without any keyboard library (pure).

A chord is written like pynput's: ``<f9>``, ``<ctrl>+<alt>+d``. The tracker turns raw key
presses and releases (key names, times in seconds) into start/stop intents for the two
modes: ``hold`` (push-to-talk) and ``toggle``. X11 autorepeat, which repeats presses (and,
without detectable autorepeat, a release and a press at the same instant), never restarts or
ends a dictation.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import Enum

MODIFIERS = {"ctrl", "alt", "shift", "cmd", "alt_gr"}
AUTOREPEAT_GAP = 0.03  # a release followed by a press within this is autorepeat


class Mode(Enum):
    HOLD = "hold"
    TOGGLE = "toggle"


class Intent(Enum):
    START = "start"
    STOP = "stop"
    TOGGLE = "toggle"  # toggle mode: the app decides from its own state (it may have
    # been started or stopped from the tray or the command line meanwhile)


class ChordError(ValueError):
    """A hotkey that cannot be used; the message says why."""


@dataclass(frozen=True)
class Chord:
    keys: frozenset[str]

    def __str__(self) -> str:
        mods = sorted(k for k in self.keys if k in MODIFIERS)
        rest = sorted(k for k in self.keys if k not in MODIFIERS)
        return "+".join(f"<{k}>" if len(k) > 1 else k for k in (*mods, *rest))


def parse_chord(text: str) -> Chord:
    """``"<ctrl>+<alt>+d"`` -> Chord. A chord needs exactly one key that is not a modifier,
    and a lone printable key would type its character, so it needs a modifier."""
    parts = [p.strip() for p in text.lower().split("+")]
    keys = []
    for part in parts:
        match = re.fullmatch(r"<([a-z0-9_]+)>|(.)", part)
        if not part or match is None:
            raise ChordError(f"{text!r}: write keys like <f9> or <ctrl>+<alt>+d")
        name = match.group(1) or match.group(2)
        keys.append(name.removesuffix("_l").removesuffix("_r"))
    plain = [k for k in keys if k not in MODIFIERS]
    if len(plain) != 1:
        raise ChordError(f"{text!r}: a hotkey needs exactly one key besides the modifiers")
    if len(plain[0]) == 1 and len(keys) == 1:
        raise ChordError(f"{text!r}: a single character key would type it; add a modifier")
    if len(set(keys)) != len(keys):
        raise ChordError(f"{text!r}: a key appears twice")
    return Chord(frozenset(keys))


@dataclass
class HotkeyTracker:
    """Feed it every key event; it answers with what the dictation should do."""

    chord: Chord
    mode: Mode = Mode.HOLD
    _down: set[str] = field(default_factory=set)
    _active: bool = False  # hold mode: the chord is held
    _held: bool = False  # all keys of the chord are down
    _release_at: float | None = None  # a release that may still turn out to be autorepeat

    def press(self, key: str, now: float) -> list[Intent]:
        intents = self.tick(now)
        key = _normal(key)
        if key in self.chord.keys and self._release_at is not None:
            self._release_at = None  # release + press at once: autorepeat, nothing happened
            self._down.add(key)
            return intents
        if key in self._down:
            return intents  # repeated press while held
        self._down.add(key)
        if self._held or not self.chord.keys <= self._down:
            return intents
        self._held = True
        if self.mode is Mode.HOLD:
            self._active = True
            return [*intents, Intent.START]
        return [*intents, Intent.TOGGLE]

    def release(self, key: str, now: float) -> list[Intent]:
        intents = self.tick(now)
        key = _normal(key)
        self._down.discard(key)
        if self._held and key in self.chord.keys:
            self._release_at = now  # decided by the next event or tick
        return intents

    def tick(self, now: float) -> list[Intent]:
        """Call now and then (e.g. 50 ms after a release): settles a pending release."""
        if self._release_at is None or now - self._release_at < AUTOREPEAT_GAP:
            return []
        self._release_at = None
        self._held = False
        if self.mode is Mode.HOLD and self._active:
            self._active = False
            return [Intent.STOP]
        return []


def _normal(key: str) -> str:
    return key.lower().strip("<>").removesuffix("_l").removesuffix("_r")
