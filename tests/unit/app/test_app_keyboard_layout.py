"""The desktop's keyboard layout, read from what GNOME and KDE store (pure parsers)."""

from __future__ import annotations

from app.core.keyboard_layout import gnome_layout, kde_layout, pick_layout


def test_gnome_input_sources_give_the_first_xkb_layout() -> None:
    assert gnome_layout("[('xkb', 'de+nodeadkeys'), ('xkb', 'us')]") == "de"
    assert gnome_layout("[('ibus', 'mozc-jp'), ('xkb', 'fr')]") == "fr"
    assert gnome_layout("@a(ss) []") == ""
    assert gnome_layout("") == ""


def test_kde_kxkbrc_gives_the_first_layout_when_kde_manages_layouts() -> None:
    kxkbrc = "[Layout]\nDisplayNames=,\nLayoutList=de,us\nUse=true\nVariantList=nodeadkeys,\n"
    assert kde_layout(kxkbrc) == "de"
    assert kde_layout(kxkbrc.replace("Use=true", "Use=false")) == ""  # the system's layout
    assert kde_layout("[Other]\nLayoutList=fr\n[Layout]\nUse=true\n") == ""
    assert kde_layout("") == ""


def test_the_environment_wins_then_the_desktops_setting() -> None:
    assert pick_layout({"XKB_DEFAULT_LAYOUT": "fr,us"}, "de") == "fr"
    assert pick_layout({}, "de") == "de"
    assert pick_layout({}, "") == ""
