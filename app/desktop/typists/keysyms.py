"""Characters to X11 keysyms (pure)."""

from __future__ import annotations

SPECIAL = {"\n": 0xFF0D, "\r": 0xFF0D, "\t": 0xFF09, "\b": 0xFF08}  # Return, Tab, BackSpace
UNICODE_KEYSYM_OFFSET = 0x01000000


def keysym_for(char: str) -> int:
    """The keysym that types ``char``: Latin-1 keysyms equal the code point; every other
    character has the Unicode keysym ``0x01000000 + code point``."""
    if char in SPECIAL:
        return SPECIAL[char]
    code = ord(char)
    if 0x20 <= code <= 0x7E or 0xA0 <= code <= 0xFF:
        return code
    return UNICODE_KEYSYM_OFFSET | code
