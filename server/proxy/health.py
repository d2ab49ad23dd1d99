"""Whether a new stream would really work: moshi-server's slots against the proxy's streams.

moshi-server keeps its port open after its model loop has died (the loop's error is only
logged), and only that loop frees slots; every new session then gets "no free channels"
(PROTOCOL.md section 2). ``GET /api/modules_info`` (kyutai-labs/moshi
``rust/moshi-server/src/main.rs``, ``modules_info``) shows it: a JSON list with one map of
strings per module, ``"used_slots": "3"``, ``"total_slots": "64"``. The proxy compares the used
slots with its own streams: slots that no stream of the proxy holds, for longer than a grace
period (a closed session's slot is freed at the loop's next step), mean the loop is stuck. No
real session is opened: it would hold a GPU slot and keep a Modal container warm. This assumes
the proxy is the backend's only client, as in this project's deployments.

The judgement is pure (:class:`HealthJudge`); fetching is :func:`fetch_slots`.
"""

from __future__ import annotations

import asyncio
import http.client
import json
import urllib.error
import urllib.request
from dataclasses import dataclass
from enum import Enum
from urllib.parse import urlsplit, urlunsplit

MODULES_INFO_PATH = "/api/modules_info"
FETCH_TIMEOUT = 2.0


class Status(Enum):
    OK = "ok"  # a new stream would get a slot
    BUSY = "busy"  # every slot is taken, by this proxy's streams (or only briefly otherwise)
    STALLED = "stalled"  # slots held that no stream of the proxy explains, for too long
    UNREACHABLE = "backend_unreachable"  # no usable answer from /api/modules_info


@dataclass(frozen=True)
class Slots:
    used: int
    total: int


@dataclass(frozen=True)
class Health:
    status: Status
    proxy_streams: int
    slots: Slots | None = None
    detail: str = ""

    @property
    def ok(self) -> bool:
        return self.status is Status.OK

    def as_json(self) -> dict[str, object]:
        body: dict[str, object] = {
            "status": self.status.value,
            "backend_reachable": self.slots is not None,
            "proxy_streams": self.proxy_streams,
        }
        if self.slots is not None:
            body |= {"used_slots": self.slots.used, "total_slots": self.slots.total}
        if self.detail:
            body["detail"] = self.detail
        return body

    def metrics(self) -> str:
        """Prometheus lines for this result."""
        lines = [
            "# TYPE kyutai_dictate_backend_healthy gauge",
            f"kyutai_dictate_backend_healthy {int(self.ok)}",
            "# TYPE kyutai_dictate_backend_status gauge",
        ]
        lines += [
            f'kyutai_dictate_backend_status{{status="{s.value}"}} {int(s is self.status)}'
            for s in Status
        ]
        if self.slots is not None:
            lines += [
                "# TYPE kyutai_dictate_backend_slots_used gauge",
                f"kyutai_dictate_backend_slots_used {self.slots.used}",
                "# TYPE kyutai_dictate_backend_slots_total gauge",
                f"kyutai_dictate_backend_slots_total {self.slots.total}",
            ]
        return "\n".join(lines) + "\n"


class HealthJudge:
    """Turns slot reports into a :class:`Health`, remembering since when slots have been held
    that the proxy's streams do not explain."""

    def __init__(self, stall_seconds: float) -> None:
        self._stall_seconds = stall_seconds
        self._unexplained_since: float | None = None

    def judge(self, slots: Slots | None, proxy_streams: int, now: float, error: str = "") -> Health:
        if slots is None:
            self._unexplained_since = None
            return Health(Status.UNREACHABLE, proxy_streams, None, error)
        unexplained = slots.used - proxy_streams
        if unexplained <= 0:
            self._unexplained_since = None
        elif self._unexplained_since is None:
            self._unexplained_since = now
        held_for = 0.0 if self._unexplained_since is None else now - self._unexplained_since
        if unexplained > 0 and held_for >= self._stall_seconds:
            detail = (
                f"moshi-server holds {unexplained} of {slots.total} slots for no stream of this "
                f"proxy since {held_for:.0f} s: its model loop has stopped; restart it"
            )
            return Health(Status.STALLED, proxy_streams, slots, detail)
        if slots.used >= slots.total:
            return Health(Status.BUSY, proxy_streams, slots, "every backend slot is taken")
        return Health(Status.OK, proxy_streams, slots)


def modules_info_url(backend_url: str) -> str:
    """``ws://host:port/api/asr-streaming?...`` -> ``http://host:port/api/modules_info``."""
    url = urlsplit(backend_url)
    scheme = "https" if url.scheme == "wss" else "http"
    return urlunsplit((scheme, url.netloc, MODULES_INFO_PATH, "", ""))


def parse_modules_info(body: bytes, path: str) -> Slots:
    """The slots of the module serving ``path``; ValueError saying what is wrong otherwise."""
    try:
        modules = json.loads(body)
    except ValueError:
        raise ValueError("/api/modules_info is not JSON") from None
    if not isinstance(modules, list):
        raise ValueError("/api/modules_info is not a list")
    for module in modules:
        if isinstance(module, dict) and module.get("path") == path:
            try:
                return Slots(int(module["used_slots"]), int(module["total_slots"]))
            except (KeyError, TypeError, ValueError):
                raise ValueError(f"/api/modules_info has no slot counts for {path}") from None
    raise ValueError(f"moshi-server serves no module at {path}")


async def fetch_slots(backend_url: str) -> Slots:
    """GET the backend's ``/api/modules_info``; OSError or ValueError when that fails."""
    url = modules_info_url(backend_url)
    path = urlsplit(backend_url).path
    body = await asyncio.to_thread(_get, url)
    return parse_modules_info(body, path)


def _get(url: str) -> bytes:
    try:
        with urllib.request.urlopen(url, timeout=FETCH_TIMEOUT) as response:
            body: bytes = response.read()
            return body
    except urllib.error.HTTPError as exc:
        raise ValueError(f"/api/modules_info answered HTTP {exc.code}") from None
    except http.client.HTTPException as exc:  # a garbage status line, a short body...
        raise ValueError(f"/api/modules_info answered garbage ({type(exc).__name__})") from None
