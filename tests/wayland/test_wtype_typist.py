"""The wtype typist on a real compositor (headless sway), into a native Wayland Qt window."""

from __future__ import annotations

from pathlib import Path

from app.core.settings import TypingMethod
from app.desktop.typists.choose import open_typist
from tests.support.sway import WaylandDesktop
from tests.support.target_window import focused_target, wait_for_text

# Each a separate run of wtype, as the typing queue types word by word.
CHUNKS = ["Größe", " “quoted”", " café…", " 日本語", " €5"]


def test_auto_types_exact_unicode_with_wtype_on_sway(sway: WaylandDesktop, tmp_path: Path) -> None:
    """Without a leading pause, sway 1.7 drops the first character of most wtype runs."""
    out = tmp_path / "typed.txt"
    typist = open_typist(TypingMethod.AUTO, sway.env)
    assert typist.name == "wtype"
    with focused_target(sway.env, out):
        for chunk in CHUNKS:
            typist.type(chunk)
        expected = "".join(CHUNKS)
        assert wait_for_text(out, expected) == expected
