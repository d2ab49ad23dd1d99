"""The URL of a Modal web endpoint, built and read back (pure: no I/O).

Modal serves the web endpoint labelled ``LABEL`` of workspace ``WORKSPACE`` at
``https://WORKSPACE--LABEL.modal.run``, the URL ``modal deploy`` prints (a host name over 63
characters is shortened by Modal with a hash, so it cannot be built from the parts). Clients
stream to the same host at ``wss://WORKSPACE--LABEL.modal.run/v1/stream``.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit, urlunsplit

from server.protocol.stream import PATH

DOMAIN = "modal.run"
MAX_HOST_LABEL = 63  # one DNS label: WORKSPACE--LABEL
_PART = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9_-]*[A-Za-z0-9])?")
_HOST = re.compile(r"(?P<workspace>[a-z0-9-]+?)--(?P<label>[a-z0-9-]+)\.modal\.run")
_WEBSOCKET_SCHEMES = {"https": "wss", "http": "ws"}


class ModalUrlError(ValueError):
    """A workspace or label that makes no Modal host name.

    ``part`` says which (``"workspace"`` or ``"label"``); None when the two together are
    too long."""

    def __init__(self, message: str, part: str | None = None, value: str = "") -> None:
        super().__init__(message)
        self.part = part
        self.value = value


def host(workspace: str, label: str) -> str:
    """``WORKSPACE--LABEL.modal.run`` (unchecked: see :func:`check`)."""
    return f"{workspace}--{label}.{DOMAIN}"


def web_url(workspace: str, label: str) -> str:
    """The endpoint's URL as ``modal deploy`` prints it."""
    return f"https://{host(workspace, label)}"


def stream_url(workspace: str, label: str) -> str:
    """The endpoint's ``/v1/stream`` WebSocket URL."""
    return f"wss://{host(workspace, label)}{PATH}"


def check(workspace: str, label: str) -> None:
    """Raise :class:`ModalUrlError` unless the two make a host name Modal serves unshortened."""
    for part, value in (("workspace", workspace), ("label", label)):
        if not _PART.fullmatch(value):
            raise ModalUrlError(
                f"{part}={value!r} is not a valid host name part (letters, digits, '-', '_')",
                part,
                value,
            )
    name = f"{workspace}--{label}"
    if len(name) > MAX_HOST_LABEL:
        raise ModalUrlError(
            f"{name!r} is longer than {MAX_HOST_LABEL} characters, so Modal shortened it: "
            "use the app's full URL (as `modal deploy` printed it) instead"
        )


def parse(url: str) -> tuple[str, str] | None:
    """``(workspace, label)`` of a Modal endpoint's web or stream URL; None for other URLs."""
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return None
    if parts.scheme not in ("https", "wss") or parts.hostname is None:
        return None
    found = _HOST.fullmatch(parts.hostname)
    return (found["workspace"], found["label"]) if found else None


def websocket_url(url: str) -> str:
    """``url`` (as ``modal deploy`` prints it) as a WebSocket URL: ``https://`` becomes
    ``wss://`` (``http://``, ``ws://``), and without a path it gets ``/v1/stream``. Other
    schemes are left as they are, for the caller to refuse."""
    parts = urlsplit(url.strip())
    scheme = _WEBSOCKET_SCHEMES.get(parts.scheme.lower(), parts.scheme)
    path = PATH if parts.path in ("", "/") and scheme in ("ws", "wss") else parts.path
    return urlunsplit(parts._replace(scheme=scheme, path=path))
