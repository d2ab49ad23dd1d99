"""Where a window goes so that it stays whole on the screen (pure: rectangles as tuples)."""

from __future__ import annotations

Rect = tuple[int, int, int, int]  # x, y, width, height


def fit_on_screen(rect: Rect, screen: Rect) -> Rect:
    """``rect`` moved (and shrunk, if it is larger) so that all of it is inside ``screen``.

    A remembered place from a bigger or another monitor, or a window that grew, comes back
    whole onto the screen; one already inside stays where it is.
    """
    x, y, width, height = rect
    sx, sy, s_width, s_height = screen
    width, height = min(width, s_width), min(height, s_height)
    x = min(max(x, sx), sx + s_width - width)
    y = min(max(y, sy), sy + s_height - height)
    return x, y, width, height
