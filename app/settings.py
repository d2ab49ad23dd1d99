"""The app's one settings model: what is configured, with defaults, and its TOML form.

Pure: no file or keyring access here (see :mod:`app.settings_store` and :mod:`app.secrets`).
Secrets are never part of the model; it only says which backend they belong to.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from enum import StrEnum
from typing import Any


class BackendKind(StrEnum):
    """Where the speech-to-text backend runs and which protocol and credentials it takes."""

    MODAL = "modal"  # this project's proxy on Modal; Modal proxy auth (key + secret)
    PROXY = "proxy"  # this project's proxy elsewhere (Proxmox, custom); bearer token
    MOSHI = "moshi"  # a moshi-server spoken to directly; kyutai-api-key


class SettingsError(ValueError):
    """A settings file that cannot be used; the message says which key and why."""


@dataclass(frozen=True)
class BackendSettings:
    kind: BackendKind | None = None  # None until the user (or `deploy`) configures one
    url: str = ""  # proxy or moshi: the WebSocket URL
    modal_workspace: str = ""
    modal_label: str = "kyutai-dictate"

    @property
    def configured(self) -> bool:
        if self.kind is BackendKind.MODAL:
            return bool(self.modal_workspace)
        return self.kind is not None and bool(self.url)

    def stream_url(self) -> str:
        """The WebSocket URL clients connect to."""
        if self.kind is BackendKind.MODAL:
            return f"wss://{self.modal_workspace}--{self.modal_label}.modal.run/v1/stream"
        return self.url


@dataclass(frozen=True)
class Settings:
    backend: BackendSettings = field(default_factory=BackendSettings)


def to_toml_dict(settings: Settings) -> dict[str, Any]:
    """The settings as TOML-ready tables (unset values left out)."""
    backend = {
        f.name: str(value)
        for f in fields(BackendSettings)
        if (value := getattr(settings.backend, f.name)) not in (None, "")
    }
    return {"backend": backend}


def from_toml_dict(data: dict[str, Any]) -> Settings:
    """Settings from parsed TOML; unknown keys are ignored, wrong values are errors."""
    raw = data.get("backend", {})
    if not isinstance(raw, dict):
        raise SettingsError("[backend] must be a table")
    values: dict[str, Any] = {}
    for f in fields(BackendSettings):
        if f.name in raw:
            value = raw[f.name]
            if not isinstance(value, str):
                raise SettingsError(f"backend.{f.name} must be a string, not {value!r}")
            values[f.name] = value
    if "kind" in values:
        try:
            values["kind"] = BackendKind(values["kind"])
        except ValueError:
            kinds = ", ".join(k.value for k in BackendKind)
            raise SettingsError(f"backend.kind {values['kind']!r} is not one of {kinds}") from None
    return Settings(backend=BackendSettings(**values))
