"""The endpoint of the configured backend: its URL from the settings, its credentials from
the environment or the keyring (pure: the secrets are looked up through the function passed in).

A secret is only required where the backend cannot work without it (Modal's proxy auth); for a
self-hosted proxy or moshi-server, a missing or unreadable secret just means no credential is
sent, and the endpoint carries the advice to give if the server then refuses the connection.
"""

from __future__ import annotations

from app.core.credentials import FoundSecret, Secret, SecretLookup
from app.core.endpoint import (
    Endpoint,
    EndpointError,
    check_modal_url,
    check_ws_url,
    modal_stream_url,
)
from app.core.settings import BackendKind, BackendSettings
from server.models import model_profile
from server.protocol import moshi


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
        if not key.value or not token.value:
            missing = token if key.value else key
            raise EndpointError(
                f"the Modal proxy auth {_MODAL_PARTS[missing.secret]} is missing: "
                f"{missing.missing_advice()} (modal.com, Settings > Proxy Auth Tokens)"
            )
        return Endpoint(
            url,
            (("Modal-Key", key.value), ("Modal-Secret", token.value)),
            refused_advice=_refused("Modal", "proxy auth token", key),
        )
    if backend.kind is BackendKind.MOSHI:
        url = check_ws_url(backend.url, "the moshi-server URL", default_path=moshi.PATH)
        api_key = secret(Secret.MOSHI_API_KEY)
        headers = ((moshi.API_KEY_HEADER, api_key.value),) if api_key.value else ()
        return Endpoint(url, headers, _refused("the moshi-server", "API key", api_key))
    url = check_ws_url(backend.url, "the server URL")
    token = secret(Secret.PROXY_TOKEN)
    headers = (("Authorization", f"Bearer {token.value}"),) if token.value else ()
    return Endpoint(url, headers, _refused("the server", "token", token))


_MODAL_PARTS = {Secret.MODAL_KEY: "key", Secret.MODAL_SECRET: "secret"}


def _refused(server: str, what: str, found: FoundSecret) -> str:
    """What to tell the user when ``server`` answers 401/403 to credentials ``found``."""
    if found.value is None:
        return f"{server} needs a {what}, and none is set: {found.missing_advice()}"
    return f"{server} refused the {what} {found.where()}: check it"
