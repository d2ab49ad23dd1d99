"""The automatic typing route by desktop: a small table; holding, with why, when nothing fits."""

from __future__ import annotations

import pytest

from app.core.settings import TypingMethod
from app.core.typing_choice import TypingFacts, choose_typing, wayland_routes

GNOME = frozenset({"UBUNTU", "GNOME"})
KDE = frozenset({"KDE"})
TOOLS = frozenset({"wtype", "ydotool", "dotool", "wl-copy", "wl-paste"})


def wayland(desktops: frozenset[str] = frozenset(), **facts: object) -> TypingFacts:
    return TypingFacts("linux", "wayland", desktops, **facts)  # type: ignore[arg-type]


@pytest.mark.parametrize("desktops", [GNOME, KDE])
def test_gnome_and_kde_type_through_the_portal(desktops: frozenset[str]) -> None:
    choice = choose_typing(wayland(desktops, tools=TOOLS, portal_keyboard=True, uinput=True))
    assert choice.method is TypingMethod.PORTAL


@pytest.mark.parametrize("desktops", [GNOME, KDE])
def test_without_the_portal_gnome_falls_back_to_uinput_tools_dotool_first(
    desktops: frozenset[str],
) -> None:
    assert choose_typing(wayland(desktops, tools=TOOLS, uinput=True)).method is TypingMethod.DOTOOL
    only_ydotool = wayland(desktops, tools=frozenset({"ydotool"}), ydotoold=True)
    assert choose_typing(only_ydotool).method is TypingMethod.YDOTOOL


def test_uinput_tools_without_uinput_are_not_chosen_and_the_why_says_so() -> None:
    choice = choose_typing(wayland(GNOME, tools=TOOLS))
    assert choice.method is None
    assert "portal offers no keyboard" in choice.why
    assert "/dev/uinput is not writable" in choice.why
    assert "not allowed in Settings" in choice.why


def test_gnome_never_pastes_with_wtype_even_when_allowed() -> None:
    choice = choose_typing(wayland(GNOME, tools=TOOLS, paste_allowed=True))
    assert choice.method is None
    assert "cannot type on GNOME or KDE" in choice.why


def test_other_compositors_prefer_wtype_then_uinput_then_an_allowed_paste() -> None:
    assert choose_typing(wayland(tools=TOOLS, uinput=True)).method is TypingMethod.WTYPE
    no_wtype = TOOLS - {"wtype"}
    assert choose_typing(wayland(tools=no_wtype, ydotoold=True)).method is TypingMethod.YDOTOOL
    clip = wayland(tools=frozenset({"wtype", "wl-copy", "wl-paste"}), paste_allowed=True)
    assert wayland_routes(frozenset())[0] is TypingMethod.WTYPE
    assert choose_typing(clip).method is TypingMethod.WTYPE
    assert choose_typing(wayland(tools=frozenset(), paste_allowed=True)).method is None


def test_the_portal_is_not_tried_where_wtype_works() -> None:
    assert TypingMethod.PORTAL not in wayland_routes(frozenset({"SWAY"}))


def test_x11_windows_macos_and_no_session() -> None:
    assert choose_typing(TypingFacts("linux", "x11")).method is TypingMethod.XTEST
    assert choose_typing(TypingFacts("darwin", None)).method is TypingMethod.PYNPUT
    nothing = choose_typing(TypingFacts("linux", None))
    assert nothing.method is None
    assert "neither DISPLAY nor WAYLAND_DISPLAY" in nothing.why
