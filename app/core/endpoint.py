"""Where the ``/v1/stream`` backend is and how to authenticate to it (pure: no I/O).

:func:`resolve_endpoint` turns the command line's choices and environment variables into an
:class:`Endpoint`; :func:`endpoint_for` turns the settings and the secrets (found in the
environment or the keyring) into one. A secret is only required where the backend cannot work
without it (Modal's proxy auth); for a self-hosted proxy or moshi-server a missing or
unreadable secret means no credential is sent, and the endpoint carries the advice to give if
the server then refuses. Secrets live only in ``Endpoint.headers``; ``repr``/``str`` redact
them.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from app.core.credentials import FoundSecret, Secret, SecretLookup
from app.core.errors import UsageError
from app.core.settings import BackendKind, BackendSettings
from server.models import model_profile
from server.protocol import modal_url, moshi
from server.protocol.stream import PATH

Service = Literal["modal", "local"]
SERVICES: tuple[Service, ...] = ("modal", "local")

DEFAULT_LOCAL_URL = f"ws://127.0.0.1:8000{PATH}"
DEFAULT_MODAL_LABEL = "kyutai-dictate"
TOKEN_ENV = "KYUTAI_DICTATE_TOKEN"
MODAL_LABEL_ENV = "KYUTAI_DICTATE_MODAL_LABEL"
LOCAL_URL_ENV = "LOCAL_WS_URL"

_REDACTED = "***"
_PASSWORD = re.compile(r"(//[^/?#@:]*):[^/?#@]*@")


class EndpointError(UsageError, ValueError):
    """The endpoint cannot be resolved; the message says what to set."""


@dataclass(frozen=True, slots=True, repr=False)
class Endpoint:
    """A WebSocket URL plus the HTTP headers to send with the opening handshake."""

    url: str
    headers: tuple[tuple[str, str], ...] = ()
    # What to tell the user if the server refuses the credentials (HTTP 401/403).
    refused_advice: str = field(default="", compare=False)

    def describe(self) -> str:
        """The URL and header names, with every secret replaced by ``***``."""
        names = ", ".join(name for name, _ in self.headers)
        suffix = f" (headers: {names})" if names else ""
        return redact_url(self.url) + suffix

    def __repr__(self) -> str:
        headers = tuple((name, _REDACTED) for name, _ in self.headers)
        return f"Endpoint(url={redact_url(self.url)!r}, headers={headers!r})"

    __str__ = describe


def resolve_endpoint(
    url: str | None,
    service: str | None,
    token: str | None,
    env: Mapping[str, str],
) -> Endpoint:
    """Build the endpoint from ``--url`` / ``--service`` / ``--token`` and the environment.

    ``url`` wins over the URL the service would give; with neither, the service is ``local``.
    ``service == "modal"`` always adds the Modal proxy-auth headers (so an explicit ``--url`` to a
    Modal app still authenticates). A token (argument, else ``KYUTAI_DICTATE_TOKEN``) adds
    ``Authorization: Bearer``. A URL without a path gets ``/v1/stream``.
    Raises :class:`EndpointError` naming what to set.
    """
    if service is not None and service not in SERVICES:
        raise EndpointError(f"unknown service {service!r}; choose one of: {', '.join(SERVICES)}")
    headers: list[tuple[str, str]] = []
    if service == "modal":
        headers += [
            ("Modal-Key", _require(env, "MODAL_KEY", "the Modal proxy-auth token id")),
            ("Modal-Secret", _require(env, "MODAL_SECRET", "the Modal proxy-auth token secret")),
        ]
    if url:
        resolved = check_ws_url(url, "--url")
    elif service == "modal":
        resolved = _modal_url(env)
    else:
        local = _get(env, LOCAL_URL_ENV)
        resolved = check_ws_url(local, LOCAL_URL_ENV) if local else DEFAULT_LOCAL_URL
    bearer = (token or "").strip() or _get(env, TOKEN_ENV)
    if bearer:
        if not header_safe(bearer):
            raise EndpointError(f"the token (--token or {TOKEN_ENV}) must not contain whitespace")
        headers.append(("Authorization", f"Bearer {bearer}"))
    return Endpoint(resolved, tuple(headers))


def redact_url(url: str) -> str:
    """``url`` with any password in the user info and every query value replaced by ``***``."""
    try:
        parts = urlsplit(url)
    except ValueError:  # unparsable (a bad IPv6 host): no query, no password
        base, query, _ = url.partition("?")
        return _PASSWORD.sub(rf"\1:{_REDACTED}@", base) + (f"?{_REDACTED}" if query else "")
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, host = netloc.rsplit("@", 1)
        user = userinfo.split(":", 1)[0]
        netloc = f"{user}:{_REDACTED}@{host}" if ":" in userinfo else f"{user}@{host}"
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        query = urlencode([(key, _REDACTED) for key, _ in pairs], safe="*")
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def _modal_url(env: Mapping[str, str]) -> str:
    workspace = _require(env, "MODAL_WORKSPACE", "your Modal workspace name")
    label = _get(env, MODAL_LABEL_ENV) or DEFAULT_MODAL_LABEL
    return modal_stream_url(workspace, label, ("MODAL_WORKSPACE", MODAL_LABEL_ENV))


def modal_stream_url(
    workspace: str, label: str, sources: tuple[str, str] = ("workspace", "app label")
) -> str:
    """The stream URL of the Modal app ``label`` in ``workspace`` (both checked as host name
    parts; ``sources`` name them in the error)."""
    try:
        modal_url.check(workspace, label)
    except modal_url.ModalUrlError as exc:
        if exc.part is None:
            raise EndpointError(str(exc)) from None
        name = sources[0] if exc.part == "workspace" else sources[1]
        raise EndpointError(
            f"{name}={exc.value!r} is not a valid host name part (letters, digits, '-', '_')"
        ) from None
    return modal_url.stream_url(workspace, label)


def check_modal_url(url: str, source: str) -> str:
    """A Modal app's full URL as a WebSocket URL: ``https://`` (as ``modal deploy`` prints it)
    becomes ``wss://``; otherwise as :func:`check_ws_url`."""
    with contextlib.suppress(ValueError):  # if it is no URL, check_ws_url says why
        url = modal_url.websocket_url(url)
    return check_ws_url(url, source)


def check_ws_url(url: str, source: str, default_path: str = PATH) -> str:
    """``url`` checked as a ws:// or wss:// URL, with ``default_path`` when it has no path.

    Raises :class:`EndpointError` naming ``source`` (the option or field it came from).
    """
    url = url.strip()
    try:
        parts = urlsplit(url)
        _ = parts.port  # raises ValueError for a port that is not a number in range
    except ValueError as exc:
        raise EndpointError(f"{source}: {redact_url(url)!r} is not a valid URL: {exc}") from None
    if parts.scheme not in ("ws", "wss"):
        hint = ""
        if parts.scheme in ("http", "https"):
            hint = f" (did you mean {'wss' if parts.scheme == 'https' else 'ws'}://...?)"
        raise EndpointError(f"{source}: {redact_url(url)!r} must start with ws:// or wss://{hint}")
    if not parts.hostname:
        raise EndpointError(f"{source}: {redact_url(url)!r} has no host name")
    if parts.path in ("", "/"):
        parts = parts._replace(path=default_path)
    return urlunsplit(parts)


def _get(env: Mapping[str, str], name: str) -> str:
    return env.get(name, "").strip()


def _require(env: Mapping[str, str], name: str, what: str) -> str:
    value = _get(env, name)
    if not value:
        raise EndpointError(f"set the environment variable {name} ({what})")
    if not header_safe(value):
        raise EndpointError(f"{name} ({what}) must not contain whitespace or control characters")
    return value


def header_safe(secret: str) -> bool:
    """Whether ``secret`` can go in an HTTP header as it is: no whitespace, no control
    characters (websockets would refuse it, quoting the value in its error)."""
    return not any(c.isspace() or ord(c) < 32 or ord(c) == 127 for c in secret)


# -- the endpoint of the configured backend ------------------------------------------------


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
        key, token = _checked(secret(Secret.MODAL_KEY)), _checked(secret(Secret.MODAL_SECRET))
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
    if backend.kind is BackendKind.ENGINE and not backend.url:
        raise EndpointError("the local engine is not running: restart the app to start it")
    if backend.kind in (BackendKind.MOSHI, BackendKind.ENGINE):
        url = check_ws_url(backend.url, "the moshi-server URL", default_path=moshi.PATH)
        api_key = _checked(secret(Secret.MOSHI_API_KEY))
        headers = ((moshi.API_KEY_HEADER, api_key.value),) if api_key.value else ()
        return Endpoint(url, headers, _refused("the moshi-server", "API key", api_key))
    url = check_ws_url(backend.url, "the server URL")
    token = _checked(secret(Secret.PROXY_TOKEN))
    headers = (("Authorization", f"Bearer {token.value}"),) if token.value else ()
    return Endpoint(url, headers, _refused("the server", "token", token))


_MODAL_PARTS = {Secret.MODAL_KEY: "key", Secret.MODAL_SECRET: "secret"}


def _checked(found: FoundSecret) -> FoundSecret:
    """``found``, if it can be sent in a header; the error names where it came from, never
    the value."""
    if found.value is not None and not header_safe(found.value):
        raise EndpointError(
            f"the {found.secret.value} {found.where()} contains whitespace or control "
            "characters: check it (a line break pasted with it?)"
        )
    return found


def _refused(server: str, what: str, found: FoundSecret) -> str:
    """What to tell the user when ``server`` answers 401/403 to credentials ``found``."""
    if found.value is None:
        return f"{server} needs a {what}, and none is set: {found.missing_advice()}"
    return f"{server} refused the {what} {found.where()}: check it"
