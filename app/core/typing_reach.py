"""What each typing route can type exactly, as data, and the check made before typing (pure).

Routes that send keysyms or upload a keymap reach any character; routes that send key codes
(ydotool, dotool: uinput) reach only the characters on the keyboard layout they assume. Text
such a route cannot type exactly is held, with the reason, rather than typed wrong (a German
layout turns ydotool's "y" into "z"; "é" has no US key code at all).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from app.core.settings import TypingMethod


class Reach(Enum):
    ANY = "any character"
    LAYOUT = "only the characters of one keyboard layout"


@dataclass(frozen=True)
class RouteReach:
    reach: Reach
    how: str  # how the route produces a character, which is why it reaches what it does


REACH: dict[TypingMethod, RouteReach] = {
    TypingMethod.XTEST: RouteReach(Reach.ANY, "maps each character's keysym to a spare key code"),
    TypingMethod.XDOTOOL: RouteReach(Reach.ANY, "maps each character's keysym to a spare key"),
    TypingMethod.WTYPE: RouteReach(Reach.ANY, "uploads a keymap holding every character it types"),
    TypingMethod.PORTAL: RouteReach(
        Reach.ANY, "sends each character's keysym through the RemoteDesktop portal"
    ),
    TypingMethod.PYNPUT: RouteReach(Reach.ANY, "sends Unicode key events (Windows, macOS)"),
    TypingMethod.CLIPBOARD: RouteReach(Reach.ANY, "pastes the text itself"),
    TypingMethod.YDOTOOL: RouteReach(
        Reach.LAYOUT, "sends the key codes of a US keyboard for printable ASCII"
    ),
    TypingMethod.DOTOOL: RouteReach(
        Reach.LAYOUT, "sends key codes of DOTOOL_XKB_LAYOUT (default: us)"
    ),
}

# The characters a US layout has a key for (Return and Tab included). Of other layouts only
# these are assumed too (Latin layouts reach ASCII, some through AltGr), never their extras.
ASCII_KEYS = frozenset(chr(code) for code in range(0x20, 0x7F)) | {"\n", "\t"}


def tool_layout(method: TypingMethod, env_layout: str) -> str:
    """The layout a key-code route assumes: ydotool always US; dotool its
    DOTOOL_XKB_LAYOUT (``env_layout``), US when unset."""
    if method is TypingMethod.DOTOOL and env_layout:
        return _first(env_layout)
    return "us"


def cannot_type(
    method: TypingMethod, text: str, desktop_layout: str = "", assumed: str = "us"
) -> str | None:
    """Why ``method`` cannot type ``text`` exactly, or None when it can.

    ``desktop_layout``: the desktop's XKB layout ("" when not known: the tool's is trusted);
    ``assumed``: the layout the tool makes key codes for (see :func:`tool_layout`). Where
    the two differ even ASCII letters move, so everything is refused.
    """
    facts = REACH.get(method)
    if facts is None or facts.reach is Reach.ANY:
        return None
    name = method.value
    desktop = _first(desktop_layout)
    if desktop and desktop != _first(assumed):
        return (
            f"{name} {facts.how}, but the keyboard layout is {desktop!r}: the text would come "
            "out wrong, so it is held (use the portal, wtype or the clipboard)"
        )
    for char in text:
        if char not in ASCII_KEYS:
            return (
                f"{name} cannot type {char!r} (U+{ord(char):04X}) exactly: it {facts.how}, so "
                "the text is held (use the portal, wtype or the clipboard for any character)"
            )
    return None


def _first(layouts: str) -> str:
    """The first of XKB's comma-separated layouts (the one in use at start)."""
    return layouts.split(",", maxsplit=1)[0].strip().lower()
