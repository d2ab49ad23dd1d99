"""Characters to X11 keysyms."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from app.desktop.typists.keysyms import keysym_for


def test_known_keysyms() -> None:
    assert keysym_for("a") == 0x61
    assert keysym_for("é") == 0xE9  # Latin-1: the code point
    assert keysym_for("€") == 0x010020AC  # everything else: the Unicode keysym
    assert keysym_for("\n") == 0xFF0D  # Return
    assert keysym_for("\t") == 0xFF09


@given(st.characters(min_codepoint=0x100, exclude_categories=("Cs",)))
def test_unicode_keysyms_carry_the_code_point(char: str) -> None:
    assert keysym_for(char) - 0x01000000 == ord(char)
