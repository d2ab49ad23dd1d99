"""The configured backend's endpoint: URL from the settings, credentials from the keyring."""

from __future__ import annotations

import pytest

from app.backend_endpoint import endpoint_for
from app.endpoint import EndpointError
from app.secret_store import Secret
from app.settings import BackendKind, BackendSettings

SECRETS = {
    Secret.MODAL_KEY: "wk-1",
    Secret.MODAL_SECRET: "ws-2",
    Secret.PROXY_TOKEN: "tok",
    Secret.MOSHI_API_KEY: "public_token",
}


def test_modal_uses_the_workspace_url_and_proxy_auth_headers() -> None:
    backend = BackendSettings(BackendKind.MODAL, modal_workspace="alice")
    endpoint = endpoint_for(backend, SECRETS.get)
    assert endpoint.url == "wss://alice--kyutai-dictate.modal.run/v1/stream"
    assert endpoint.headers == (("Modal-Key", "wk-1"), ("Modal-Secret", "ws-2"))


def test_proxy_gets_a_bearer_token_and_the_stream_path() -> None:
    endpoint = endpoint_for(
        BackendSettings(BackendKind.PROXY, url="ws://10.0.0.5:8000"), SECRETS.get
    )
    assert endpoint.url == "ws://10.0.0.5:8000/v1/stream"
    assert endpoint.headers == (("Authorization", "Bearer tok"),)


def test_moshi_server_gets_its_api_key_and_path() -> None:
    backend = BackendSettings(BackendKind.MOSHI, url="ws://gpu:8080")
    endpoint = endpoint_for(backend, SECRETS.get)
    assert endpoint.url == "ws://gpu:8080/api/asr-streaming"
    assert endpoint.headers == (("kyutai-api-key", "public_token"),)


def test_no_secret_means_no_header_for_self_hosted_backends() -> None:
    endpoint = endpoint_for(BackendSettings(BackendKind.PROXY, url="ws://127.0.0.1:8000"), {}.get)
    assert endpoint.headers == ()


@pytest.mark.parametrize(
    ("backend", "message"),
    [
        (BackendSettings(), "no backend is configured"),
        (BackendSettings(BackendKind.PROXY), "no backend is configured"),
        (BackendSettings(BackendKind.PROXY, url="http://x:8000"), "did you mean ws://"),
        (BackendSettings(BackendKind.MOSHI, url="ws://:8080"), "has no host name"),
        (BackendSettings(BackendKind.MODAL, modal_workspace="a b"), "not a valid host name part"),
    ],
)
def test_unusable_settings_say_what_to_fix(backend: BackendSettings, message: str) -> None:
    with pytest.raises(EndpointError, match=message):
        endpoint_for(backend, SECRETS.get)


def test_modal_without_its_token_says_where_to_get_one() -> None:
    backend = BackendSettings(BackendKind.MODAL, modal_workspace="alice")
    with pytest.raises(EndpointError, match="Proxy Auth Tokens"):
        endpoint_for(backend, {}.get)


@pytest.mark.parametrize("kind", [BackendKind.MOSHI, BackendKind.PROXY])
def test_an_unknown_model_is_refused(kind: BackendKind) -> None:
    """A direct moshi-server's model, or the original service's (its release needs the delay)."""
    backend = BackendSettings(kind, url="ws://gpu:8080", model="kyutai/stt-9b")
    with pytest.raises(EndpointError, match=r"backend\.model: unknown model"):
        endpoint_for(backend, SECRETS.get)


def test_modal_accepts_another_apps_label() -> None:
    """The original service's app and bench --compare-gpus' apps have labels of their own."""
    label = "kyutai-stt-rust-kyutaisttrustservice-serve"
    backend = BackendSettings(BackendKind.MODAL, modal_workspace="alice", modal_label=label)
    endpoint = endpoint_for(backend, SECRETS.get)
    assert endpoint.url == f"wss://alice--{label}.modal.run/v1/stream"
    assert endpoint.headers == (("Modal-Key", "wk-1"), ("Modal-Secret", "ws-2"))


@pytest.mark.parametrize(
    "url",
    [
        "https://a-long-workspace-name--kyutai-stt-rust-kyutaisttrust-8f3a2c.modal.run",
        "wss://a-long-workspace-name--kyutai-stt-rust-kyutaisttrust-8f3a2c.modal.run/v1/stream",
    ],
)
def test_modal_accepts_the_apps_full_url_with_proxy_auth_headers(url: str) -> None:
    backend = BackendSettings(BackendKind.MODAL, url=url)
    assert backend.configured
    endpoint = endpoint_for(backend, SECRETS.get)
    host = "a-long-workspace-name--kyutai-stt-rust-kyutaisttrust-8f3a2c.modal.run"
    assert endpoint.url == f"wss://{host}/v1/stream"
    assert endpoint.headers == (("Modal-Key", "wk-1"), ("Modal-Secret", "ws-2"))


def test_a_modal_host_name_modal_would_shorten_asks_for_the_full_url() -> None:
    label = "kyutai-stt-rust-kyutaisttrustservice-serve"
    backend = BackendSettings(
        BackendKind.MODAL, modal_workspace="my-team-workspace-name", modal_label=label
    )
    with pytest.raises(EndpointError, match="use the app's full URL"):
        endpoint_for(backend, SECRETS.get)
