"""Reading and writing the settings file: ``$XDG_CONFIG_HOME/kyutai-dictate/config.toml``
(the platform's equivalent elsewhere; ``--config PATH`` overrides)."""

from __future__ import annotations

import tomllib
from pathlib import Path

import platformdirs
import tomli_w

from app.core.settings import Settings, SettingsError, from_toml_dict, to_toml_dict
from app.desktop.atomic_file import write_atomically

APP_NAME = "kyutai-dictate"


def default_path() -> Path:
    return Path(platformdirs.user_config_dir(APP_NAME, appauthor=False)) / "config.toml"


def load(path: Path | None = None) -> Settings:
    """The saved settings, or the defaults when there is no file yet."""
    path = path or default_path()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return Settings()
    except OSError as exc:
        raise SettingsError(f"cannot read {path}: {exc.strerror}") from None
    try:
        return from_toml_dict(tomllib.loads(text))
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(f"{path} is not valid TOML: {exc}") from None


def save(settings: Settings, path: Path | None = None) -> Path:
    """Write the settings atomically (a crash leaves the old file or the new one, never half)."""
    path = path or default_path()
    write_atomically(path, tomli_w.dumps(to_toml_dict(settings)), mode=0o600)
    return path
