"""Hotkey chords and push-to-talk, autorepeat included."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.core.hotkey import ChordError, HotkeyTracker, Intent, Mode, parse_chord

F9 = parse_chord("<f9>")


def test_hold_starts_on_press_and_stops_on_release() -> None:
    hotkey = HotkeyTracker(F9)
    assert hotkey.press("f9", 0.0) == [Intent.START]
    assert hotkey.release("f9", 1.0) == []  # might still be autorepeat
    assert hotkey.tick(1.1) == [Intent.STOP]
    assert hotkey.tick(2.0) == []


@given(st.lists(st.floats(0.0, 0.02), min_size=1, max_size=40))
def test_autorepeat_never_restarts_or_stops(gaps: list[float]) -> None:
    """X11 repeats presses, or release+press pairs at the same instant, while a key is held."""
    hotkey = HotkeyTracker(F9)
    intents = hotkey.press("f9", 0.0)
    now = 0.5
    for i, gap in enumerate(gaps):
        if i % 2:
            intents += hotkey.press("f9", now)  # plain repeated press
        else:
            intents += hotkey.release("f9", now)
            intents += hotkey.press("f9", now + gap)  # release+press pair
        now += 0.05
    assert intents == [Intent.START]
    intents += hotkey.release("f9", now)
    intents += hotkey.tick(now + 0.1)
    assert intents == [Intent.START, Intent.STOP]


def test_toggle_mode() -> None:
    hotkey = HotkeyTracker(F9, Mode.TOGGLE)
    assert hotkey.press("f9", 0.0) == [Intent.TOGGLE]
    assert hotkey.press("f9", 0.2) == []  # autorepeat
    assert hotkey.release("f9", 0.3) == []
    assert hotkey.tick(0.5) == []  # a release means nothing in toggle mode
    assert hotkey.press("f9", 1.0) == [Intent.TOGGLE]


def test_modifier_chord() -> None:
    hotkey = HotkeyTracker(parse_chord("<ctrl>+<alt>+d"))
    assert hotkey.press("d", 0.0) == []
    hotkey.release("d", 0.1)
    hotkey.tick(0.2)
    assert hotkey.press("ctrl_l", 1.0) == []
    assert hotkey.press("alt", 1.1) == []
    assert hotkey.press("d", 1.2) == [Intent.START]
    hotkey.release("ctrl_l", 2.0)  # letting go of any key of the chord ends it
    assert hotkey.tick(2.1) == [Intent.STOP]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("d", "would type it"),
        ("<ctrl>+<alt>", "exactly one key"),
        ("<f9>+<f10>", "exactly one key"),
        ("<ctrl>+<ctrl>+d", "twice"),
        ("ctrl+", "write keys like"),
    ],
)
def test_bad_chords(text: str, message: str) -> None:
    with pytest.raises(ChordError, match=message):
        parse_chord(text)


def test_chord_text_round_trip() -> None:
    assert str(parse_chord("<Alt>+<Ctrl_L>+D")) == "<alt>+<ctrl>+d"
    assert str(parse_chord("<f9>")) == "<f9>"
