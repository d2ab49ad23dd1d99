"""The app's version: the installed package's metadata, else the clone's ``pyproject.toml``."""

from __future__ import annotations

import tomllib
from importlib import metadata
from pathlib import Path

DISTRIBUTION = "kyutai-dictate"
LICENCE = "MIT"  # as pyproject.toml and LICENSE say
_CLONE = Path(__file__).resolve().parents[2]


def version(distribution: str = DISTRIBUTION, clone: Path = _CLONE) -> str:
    """The version installed, or the one ``clone/pyproject.toml`` names; "unknown" otherwise."""
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        pass
    try:
        project = tomllib.loads((clone / "pyproject.toml").read_text(encoding="utf-8"))
        return str(project["project"]["version"])
    except (OSError, KeyError, tomllib.TOMLDecodeError):
        return "unknown"
