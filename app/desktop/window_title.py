"""The title of the window that has the keyboard focus, for the history (X11 only; elsewhere
the platform does not tell an app, and the title is left empty)."""

from __future__ import annotations

import logging
import sys
from collections.abc import Mapping
from typing import Any

from app.core.desktop_session import session_kind

log = logging.getLogger(__name__)


def focused_window_title(env: Mapping[str, str], platform: str = sys.platform) -> str:
    """The focused window's title (``_NET_WM_NAME``, else ``WM_NAME``), "" when unknown."""
    if not platform.startswith("linux") or session_kind(env) != "x11":
        return ""
    try:
        from Xlib.display import Display

        display = Display(env["DISPLAY"])
    except Exception as exc:
        log.debug("cannot read the focused window's title: %s", exc)
        return ""
    try:
        return _title(display)
    except Exception as exc:  # a window that vanished meanwhile, a broken connection
        log.debug("cannot read the focused window's title: %s", exc)
        return ""
    finally:
        display.close()


def _title(display: Any) -> str:
    net_name = display.intern_atom("_NET_WM_NAME")
    utf8 = display.intern_atom("UTF8_STRING")
    window = display.get_input_focus().focus
    root = display.screen().root
    while hasattr(window, "query_tree") and window.id != root.id:
        name = window.get_full_property(net_name, utf8)
        if name is not None and name.value:
            value = name.value
            return value.decode(errors="replace") if isinstance(value, bytes) else str(value)
        legacy = window.get_wm_name()
        if legacy:
            return legacy if isinstance(legacy, str) else legacy.decode(errors="replace")
        window = window.query_tree().parent
    return ""
