"""The endpoint of the configured backend: its URL from the settings, its credentials from
the keyring (pure: the secrets are looked up through the function passed in)."""

from __future__ import annotations

from collections.abc import Callable

from app.endpoint import (
    Endpoint,
    EndpointError,
    check_modal_url,
    check_ws_url,
    modal_stream_url,
)
from app.secret_store import Secret
from app.settings import BackendKind, BackendSettings
from server.models import model_profile
from server.protocol import moshi

SecretLookup = Callable[[Secret], str | None]


def endpoint_for(backend: BackendSettings, secret: SecretLookup) -> Endpoint:
    """The URL and handshake headers for ``backend``; raises :class:`EndpointError` saying
    what is missing (the settings dialog shows it)."""
    if not backend.configured or backend.kind is None:
        raise EndpointError("no backend is configured: open Settings and choose one")
    try:
        model_profile(backend.model)  # a direct moshi-server's, or the original service's
    except ValueError as exc:
        raise EndpointError(f"backend.model: {exc}") from None
    if backend.kind is BackendKind.MODAL:
        if backend.url:  # the full URL: another app's label, or one Modal shortened
            url = check_modal_url(backend.url, "the Modal app URL")
        else:
            url = modal_stream_url(backend.modal_workspace, backend.modal_label)
        key, token = secret(Secret.MODAL_KEY), secret(Secret.MODAL_SECRET)
        if not key or not token:
            raise EndpointError(
                "the Modal proxy auth token is missing: enter its key and secret in Settings "
                "(modal.com, Settings > Proxy Auth Tokens)"
            )
        return Endpoint(url, (("Modal-Key", key), ("Modal-Secret", token)))
    if backend.kind is BackendKind.MOSHI:
        url = check_ws_url(backend.url, "the moshi-server URL", default_path=moshi.PATH)
        api_key = secret(Secret.MOSHI_API_KEY)
        return Endpoint(url, ((moshi.API_KEY_HEADER, api_key),) if api_key else ())
    url = check_ws_url(backend.url, "the server URL")
    token = secret(Secret.PROXY_TOKEN)
    return Endpoint(url, (("Authorization", f"Bearer {token}"),) if token else ())
