"""After a deploy: the /healthz check, against an HTTP server on loopback that guards the
endpoint like Modal's proxy auth (modal.com/docs/guide/webhook-proxy-auth: a request without
the Modal-Key and Modal-Secret headers gets 401 "modal-http: missing credentials for proxy
authorization" before it reaches, or starts, a container)."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from typing import ClassVar

import pytest

from app.backend.endpoint_health import curl_command, health_url, wait_until_healthy

KEY, SECRET = "wk-right", "ws-right"


class ModalEdge(http.server.BaseHTTPRequestHandler):
    answers: ClassVar[list[int]] = []  # what /healthz says, in turn (the last one repeats)
    seen: ClassVar[list[int]] = []

    def do_GET(self) -> None:
        given = (self.headers.get("Modal-Key"), self.headers.get("Modal-Secret"))
        if None in given:
            self._reply(401, b"modal-http: missing credentials for proxy authorization\n")
            return
        if given != (KEY, SECRET):
            self._reply(401, b"modal-http: invalid credentials for proxy authorization\n")
            return
        status = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        self.seen.append(status)
        self._reply(status, b"ok\n" if status == 200 else b"backend unavailable\n")

    def _reply(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def edge() -> Iterator[str]:
    ModalEdge.answers, ModalEdge.seen = [200], []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), ModalEdge)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/healthz"
    server.shutdown()
    server.server_close()


def test_the_right_headers_get_an_answer(edge: str) -> None:
    ModalEdge.answers = [503, 503, 200]  # the container starts, then the model is ready
    heard: list[str] = []
    ok, answer = wait_until_healthy(
        edge, (("Modal-Key", KEY), ("Modal-Secret", SECRET)), 30, poll=0.01, report=heard.append
    )
    assert (ok, answer) == (True, "HTTP 200")
    assert ModalEdge.seen == [503, 503, 200]
    assert heard == ["HTTP 503: backend unavailable", "HTTP 200"]  # each new answer once


def test_refused_credentials_end_the_check_at_once(edge: str) -> None:
    ok, answer = wait_until_healthy(
        edge, (("Modal-Key", KEY), ("Modal-Secret", "ws-wrong")), 600, poll=0.01
    )
    assert not ok
    assert answer.startswith("HTTP 401: modal-http: invalid credentials")
    assert ModalEdge.seen == []


def test_no_answer_is_reported(unused_tcp_port: int) -> None:
    ok, answer = wait_until_healthy(f"http://127.0.0.1:{unused_tcp_port}/healthz", (), 0)
    assert not ok
    assert answer.startswith("no answer")


def test_urls_and_the_command_to_check_by_hand() -> None:
    assert health_url("wss://me--kyutai-dictate.modal.run/v1/stream") == (
        "https://me--kyutai-dictate.modal.run/healthz"
    )
    assert health_url("ws://10.0.0.5:8000/v1/stream?x=1") == "http://10.0.0.5:8000/healthz"
    assert curl_command("https://h/healthz", (("Modal-Key", "$MODAL_KEY"), ("X", "a b"))) == (
        "curl -fsS -H \"Modal-Key: $MODAL_KEY\" -H 'X: a b' https://h/healthz"
    )
