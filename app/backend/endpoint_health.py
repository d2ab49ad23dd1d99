"""Whether a deployed endpoint answers: ``GET /healthz`` on it until 200, or until time is up.

The proxy serves ``/healthz`` next to ``/v1/stream`` (200: a stream would work). On Modal the
first request starts a container, which loads the model before the proxy listens, so the
check keeps asking; a refused credential (401, 403) ends it at once.
"""

from __future__ import annotations

import http.client
import shlex
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from urllib.parse import urlsplit, urlunsplit

Headers = Sequence[tuple[str, str]]
_REFUSED = (401, 403)  # waiting does not change these


def health_url(stream_url: str) -> str:
    """``wss://host/v1/stream`` → ``https://host/healthz``."""
    parts = urlsplit(stream_url)
    scheme = {"wss": "https", "ws": "http"}.get(parts.scheme, parts.scheme)
    return urlunsplit((scheme, parts.netloc, "/healthz", "", ""))


def curl_command(url: str, headers: Headers = ()) -> str:
    """The shell command that asks ``url`` by hand; ``$NAME`` in a value stays a variable."""
    args = ["curl", "-fsS"]
    for name, value in headers:
        args += ["-H", f'"{name}: {value}"' if "$" in value else shlex.quote(f"{name}: {value}")]
    return " ".join([*args, shlex.quote(url)])


def probe(url: str, headers: Headers, timeout: float) -> tuple[int | None, str]:
    """One ``GET``: the HTTP status (None: no answer) and what came back, in words."""
    request = urllib.request.Request(url, headers=dict(headers))
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, f"HTTP {response.status}"
    except urllib.error.HTTPError as exc:
        body = exc.read(200).decode("utf-8", "replace").strip()
        return exc.code, f"HTTP {exc.code}" + (f": {body}" if body else "")
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        return None, f"no answer ({reason})"
    except http.client.HTTPException as exc:  # not HTTP: a garbage status line, a short body
        return None, f"no HTTP answer ({type(exc).__name__})"


def wait_until_healthy(
    url: str,
    headers: Headers,
    timeout: float,
    *,
    poll: float = 5.0,
    report: Callable[[str], None] = lambda _: None,
) -> tuple[bool, str]:
    """Ask until ``url`` answers 200 (True) or ``timeout`` seconds pass or the credentials are
    refused (False); also returns the last answer. ``report`` hears each new answer."""
    deadline = time.monotonic() + timeout
    last = ""
    while True:
        remaining = deadline - time.monotonic()
        status, answer = probe(url, headers, max(1.0, min(remaining, 60.0)))
        if answer != last:
            report(answer)
            last = answer
        if status == 200:
            return True, answer
        if status in _REFUSED or time.monotonic() + poll > deadline:
            return False, answer
        time.sleep(poll)  # the container is still starting: ask again
