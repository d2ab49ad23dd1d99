"""The focused window in sway's layout tree (i3 IPC ``GET_TREE``), pure.

sway(7) / sway-ipc(7): every node has an ``id`` and ``focused``; windows are the nodes under
``nodes`` and ``floating_nodes`` that have an ``app_id`` (Wayland) or a ``window`` (XWayland).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def focused_window(tree: Mapping[str, Any]) -> int | None:
    """The id of the focused window; None when the focus is on no window (an empty
    workspace, a layer surface such as a launcher)."""
    stack = [tree]
    while stack:
        node = stack.pop()
        if node.get("focused"):
            is_window = node.get("app_id") is not None or node.get("window") is not None
            return int(node["id"]) if is_window else None
        for key in ("nodes", "floating_nodes"):
            stack.extend(node.get(key) or [])
    return None
