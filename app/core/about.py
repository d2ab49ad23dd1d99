"""The About text: the app's version, its licence and the backend in use (pure)."""

from __future__ import annotations

from app.core.settings import BackendSettings


def about_text(version: str, licence: str, backend: BackendSettings) -> str:
    """What the tray's About entry shows."""
    if backend.configured and backend.kind is not None:
        used = f"{backend.kind.value} at {backend.stream_url()}"
    else:
        used = "not configured"
    return (
        f"kyutai-dictate {version}\n"
        "Push-to-talk dictation with Kyutai's streaming speech-to-text.\n"
        f"Licence: {licence}\n"
        f"Backend: {used}"
    )
