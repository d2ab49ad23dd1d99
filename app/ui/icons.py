"""The tray icons (SVG files in ``resources/icons``, one per :class:`~app.core.status.Look`)."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QIcon, QImage, QPainter, QPixmap
from PySide6.QtSvg import QSvgRenderer

from app.core.status import Look

_HERE = Path(__file__).resolve()
# A checkout has resources/ at the top; an installed wheel carries it inside the package.
RESOURCES = next(
    (p for p in (_HERE.parents[2] / "resources", _HERE.parents[1] / "resources") if p.is_dir()),
    _HERE.parents[2] / "resources",
)


@cache
def icon(look: Look) -> QIcon:
    """The icon for ``look``, rendered at the sizes trays ask for."""
    renderer = QSvgRenderer(str(RESOURCES / "icons" / f"{look.value}.svg"))
    result = QIcon()
    for size in (16, 22, 24, 32, 48, 64):
        image = QImage(size, size, QImage.Format.Format_ARGB32_Premultiplied)
        image.fill(Qt.GlobalColor.transparent)
        painter = QPainter(image)
        renderer.render(painter)
        painter.end()
        result.addPixmap(QPixmap.fromImage(image))
    return result
