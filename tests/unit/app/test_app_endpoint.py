"""Endpoint resolution from options and environment, and secret redaction."""

from __future__ import annotations

import re

import pytest

from app.core.endpoint import DEFAULT_LOCAL_URL, Endpoint, EndpointError, resolve_endpoint

MODAL_ENV = {"MODAL_WORKSPACE": "alice", "MODAL_KEY": "wk-id", "MODAL_SECRET": "ws-secret"}


def test_local_is_the_default() -> None:
    endpoint = resolve_endpoint(None, None, None, {})
    assert endpoint == Endpoint(DEFAULT_LOCAL_URL, ())
    assert endpoint.url == "ws://127.0.0.1:8000/v1/stream"


def test_local_url_from_the_environment() -> None:
    env = {"LOCAL_WS_URL": "ws://gpu.lan:9000/v1/stream"}
    assert resolve_endpoint(None, "local", None, env).url == "ws://gpu.lan:9000/v1/stream"


def test_modal_url_and_headers() -> None:
    endpoint = resolve_endpoint(None, "modal", None, MODAL_ENV)
    assert endpoint.url == "wss://alice--kyutai-dictate.modal.run/v1/stream"
    assert endpoint.headers == (("Modal-Key", "wk-id"), ("Modal-Secret", "ws-secret"))


def test_modal_label_from_the_environment() -> None:
    env = {**MODAL_ENV, "KYUTAI_DICTATE_MODAL_LABEL": "stt-dev"}
    assert (
        resolve_endpoint(None, "modal", None, env).url == "wss://alice--stt-dev.modal.run/v1/stream"
    )


@pytest.mark.parametrize("missing", ["MODAL_WORKSPACE", "MODAL_KEY", "MODAL_SECRET"])
def test_modal_names_the_missing_variable(missing: str) -> None:
    env = {k: v for k, v in MODAL_ENV.items() if k != missing}
    with pytest.raises(EndpointError, match=missing):
        resolve_endpoint(None, "modal", None, env)


def test_blank_variable_counts_as_missing() -> None:
    with pytest.raises(EndpointError, match="MODAL_SECRET"):
        resolve_endpoint(None, "modal", None, {**MODAL_ENV, "MODAL_SECRET": "  "})


def test_modal_workspace_must_be_a_host_name_part() -> None:
    with pytest.raises(EndpointError, match="MODAL_WORKSPACE"):
        resolve_endpoint(None, "modal", None, {**MODAL_ENV, "MODAL_WORKSPACE": "a/b"})


def test_url_wins_over_the_service_but_modal_still_authenticates() -> None:
    env = {k: v for k, v in MODAL_ENV.items() if k != "MODAL_WORKSPACE"}
    endpoint = resolve_endpoint("wss://x--y.modal.run/v1/stream", "modal", None, env)
    assert endpoint.url == "wss://x--y.modal.run/v1/stream"
    assert [name for name, _ in endpoint.headers] == ["Modal-Key", "Modal-Secret"]


def test_url_wins_over_local_url() -> None:
    env = {"LOCAL_WS_URL": "ws://elsewhere/v1/stream"}
    assert resolve_endpoint("ws://here:1/v1/stream", None, None, env).url == "ws://here:1/v1/stream"


def test_modal_credentials_are_not_sent_to_a_url_without_service_modal() -> None:
    assert resolve_endpoint("wss://example.com/v1/stream", None, None, MODAL_ENV).headers == ()


def test_url_without_path_gets_the_stream_path() -> None:
    assert resolve_endpoint("ws://host:8000", None, None, {}).url == "ws://host:8000/v1/stream"
    assert resolve_endpoint("ws://host:8000/", None, None, {}).url == "ws://host:8000/v1/stream"
    assert resolve_endpoint("ws://host/custom", None, None, {}).url == "ws://host/custom"


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://host/v1/stream", "did you mean ws://"),
        ("https://host/v1/stream", "did you mean wss://"),
        ("host:8000", "must start with ws:// or wss://"),
        ("ws:///v1/stream", "no host"),
        ("ws://host:99999/v1/stream", "not a valid URL"),
        ("wss://user:pw@[::1/v1/stream", re.escape("'wss://user:***@[::1/v1/stream' is not a")),
    ],
)
def test_bad_urls(url: str, message: str) -> None:
    with pytest.raises(EndpointError, match=message):
        resolve_endpoint(url, None, None, {})


def test_bad_local_url_names_the_variable() -> None:
    with pytest.raises(EndpointError, match="LOCAL_WS_URL"):
        resolve_endpoint(None, "local", None, {"LOCAL_WS_URL": "http://x"})


def test_unknown_service() -> None:
    with pytest.raises(EndpointError, match="modal, local"):
        resolve_endpoint(None, "aws", None, {})


def test_token_argument_wins_over_the_environment() -> None:
    env = {"KYUTAI_DICTATE_TOKEN": "from-env"}
    assert resolve_endpoint(None, None, None, env).headers == (
        ("Authorization", "Bearer from-env"),
    )
    assert resolve_endpoint(None, None, "arg", env).headers == (("Authorization", "Bearer arg"),)


def test_token_with_modal_headers() -> None:
    endpoint = resolve_endpoint(None, "modal", "tok", MODAL_ENV)
    assert [name for name, _ in endpoint.headers] == ["Modal-Key", "Modal-Secret", "Authorization"]


def test_token_with_whitespace_is_refused() -> None:
    with pytest.raises(EndpointError, match="whitespace"):
        resolve_endpoint(None, None, "a b", {})


def test_repr_and_describe_hide_secrets() -> None:
    endpoint = resolve_endpoint(
        "wss://user:pw@host/v1/stream?auth_id=qid", "modal", "tok-123", MODAL_ENV
    )
    for text in (repr(endpoint), str(endpoint), endpoint.describe(), f"{endpoint}"):
        for secret in ("wk-id", "ws-secret", "tok-123", "pw", "qid"):
            assert secret not in text, (secret, text)
    assert "Modal-Secret" in endpoint.describe()
    assert "auth_id=***" in endpoint.describe()
    assert "user:***@host" in repr(endpoint)


def test_errors_do_not_echo_secrets_in_urls() -> None:
    with pytest.raises(EndpointError) as caught:
        resolve_endpoint("http://user:hunter2@host/?auth_id=qid", None, None, {})
    assert "hunter2" not in str(caught.value)
    assert "qid" not in str(caught.value)
