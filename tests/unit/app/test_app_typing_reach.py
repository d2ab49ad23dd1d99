"""What each typing route types exactly: text a route would type wrong is refused, with why."""

from __future__ import annotations

import pytest

from app.core.settings import TypingMethod
from app.core.typing_reach import REACH, Reach, cannot_type, tool_layout

EXACT = "Größe “quoted” café… 日本語 €5"


def test_every_method_but_auto_has_a_row() -> None:
    assert set(REACH) == set(TypingMethod) - {TypingMethod.AUTO}


@pytest.mark.parametrize(
    "method",
    [m for m, row in REACH.items() if row.reach is Reach.ANY],
)
def test_keysym_keymap_and_paste_routes_type_any_character(method: TypingMethod) -> None:
    assert cannot_type(method, EXACT, "de") is None


@pytest.mark.parametrize("method", [TypingMethod.YDOTOOL, TypingMethod.DOTOOL])
def test_key_code_routes_type_ascii_on_a_us_layout(method: TypingMethod) -> None:
    assert cannot_type(method, "Hello, world! (1+1=2)\n\tend", "us") is None
    assert cannot_type(method, "plain text", "") is None  # layout not known: trusted


@pytest.mark.parametrize("method", [TypingMethod.YDOTOOL, TypingMethod.DOTOOL])
def test_key_code_routes_refuse_characters_off_the_layout_and_name_them(
    method: TypingMethod,
) -> None:
    why = cannot_type(method, "café", "us")
    assert why is not None
    assert "'é' (U+00E9)" in why
    assert method.value in why


def test_ydotool_refuses_everything_on_another_layout() -> None:
    why = cannot_type(TypingMethod.YDOTOOL, "yes", "de,us")
    assert why is not None
    assert "'de'" in why


def test_dotool_types_ascii_when_told_the_desktops_layout() -> None:
    assumed = tool_layout(TypingMethod.DOTOOL, "de")
    assert cannot_type(TypingMethod.DOTOOL, "yes", "de", assumed) is None
    assert cannot_type(TypingMethod.DOTOOL, "yes", "fr", assumed) is not None
    assert tool_layout(TypingMethod.DOTOOL, "") == "us"
    assert tool_layout(TypingMethod.YDOTOOL, "de") == "us"
