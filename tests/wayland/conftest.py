"""Fixtures of the Wayland tests: a headless sway session (tests/support/sway.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.sway import WaylandDesktop, sway_desktop


@pytest.fixture
def sway(tmp_path: Path) -> Iterator[WaylandDesktop]:
    with sway_desktop(tmp_path / "home") as session:
        yield session
