"""The configured backend's endpoint: URL from the settings, credentials from the environment
or the keyring (a keyring that cannot be read only matters where a secret is needed)."""

from __future__ import annotations

import pytest

from app.core.credentials import Secret, SecretReadError, secret_lookup
from app.core.endpoint import EndpointError, endpoint_for
from app.core.settings import BackendKind, BackendSettings

KEYRING = {
    Secret.MODAL_KEY: "wk-1",
    Secret.MODAL_SECRET: "ws-2",
    Secret.PROXY_TOKEN: "tok",
    Secret.MOSHI_API_KEY: "public_token",
}
SECRETS = secret_lookup({}, KEYRING.get)  # keyring only
NONE = secret_lookup({}, {}.get)  # a keyring with nothing saved


def unreadable(secret: Secret) -> str | None:
    """The keyring of a desktop without a secure one (as app.desktop.secret_store.load reads it)."""
    raise SecretReadError("no secure keyring is available (keyrings.alt.file.PlaintextKeyring)")


NO_KEYRING = secret_lookup({}, unreadable)


def test_modal_uses_the_workspace_url_and_proxy_auth_headers() -> None:
    backend = BackendSettings(BackendKind.MODAL, modal_workspace="alice")
    endpoint = endpoint_for(backend, SECRETS)
    assert endpoint.url == "wss://alice--kyutai-dictate.modal.run/v1/stream"
    assert endpoint.headers == (("Modal-Key", "wk-1"), ("Modal-Secret", "ws-2"))


def test_proxy_gets_a_bearer_token_and_the_stream_path() -> None:
    endpoint = endpoint_for(BackendSettings(BackendKind.PROXY, url="ws://10.0.0.5:8000"), SECRETS)
    assert endpoint.url == "ws://10.0.0.5:8000/v1/stream"
    assert endpoint.headers == (("Authorization", "Bearer tok"),)


def test_moshi_server_gets_its_api_key_and_path() -> None:
    backend = BackendSettings(BackendKind.MOSHI, url="ws://gpu:8080")
    endpoint = endpoint_for(backend, SECRETS)
    assert endpoint.url == "ws://gpu:8080/api/asr-streaming"
    assert endpoint.headers == (("kyutai-api-key", "public_token"),)


def test_this_computer_is_a_moshi_server_once_the_app_has_started_the_engine() -> None:
    with pytest.raises(EndpointError, match="the local engine is not running"):
        endpoint_for(BackendSettings(BackendKind.ENGINE), SECRETS)
    backend = BackendSettings(BackendKind.ENGINE, url="ws://127.0.0.1:40001/api/asr-streaming")
    assert backend.configured
    endpoint = endpoint_for(backend, SECRETS)
    assert endpoint.url == "ws://127.0.0.1:40001/api/asr-streaming"
    assert endpoint.headers == (("kyutai-api-key", "public_token"),)


def test_no_secret_means_no_header_for_self_hosted_backends() -> None:
    endpoint = endpoint_for(BackendSettings(BackendKind.PROXY, url="ws://127.0.0.1:8000"), NONE)
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
        endpoint_for(backend, SECRETS)


def test_modal_without_its_token_says_where_to_get_one() -> None:
    backend = BackendSettings(BackendKind.MODAL, modal_workspace="alice")
    with pytest.raises(EndpointError, match="Proxy Auth Tokens"):
        endpoint_for(backend, NONE)


@pytest.mark.parametrize("kind", [BackendKind.MOSHI, BackendKind.PROXY])
def test_an_unknown_model_is_refused(kind: BackendKind) -> None:
    """A direct moshi-server's model, or the original service's (its release needs the delay)."""
    backend = BackendSettings(kind, url="ws://gpu:8080", model="kyutai/stt-9b")
    with pytest.raises(EndpointError, match=r"backend\.model: unknown model"):
        endpoint_for(backend, SECRETS)


PROXY = BackendSettings(BackendKind.PROXY, url="ws://127.0.0.1:8000")
MOSHI = BackendSettings(BackendKind.MOSHI, url="ws://127.0.0.1:8080")
MODAL = BackendSettings(BackendKind.MODAL, modal_workspace="alice")


@pytest.mark.parametrize("backend", [PROXY, MOSHI])
def test_an_unreadable_keyring_does_not_stop_a_backend_that_needs_no_secret(
    backend: BackendSettings,
) -> None:
    endpoint = endpoint_for(backend, NO_KEYRING)
    assert endpoint.headers == ()
    # Said only if the server then refuses: what was missing, and where to put it.
    assert "none is set" in endpoint.refused_advice
    assert "the keyring could not be read (no secure keyring is available" in (
        endpoint.refused_advice
    )
    variable = "KYUTAI_DICTATE_TOKEN" if backend is PROXY else "KYUTAI_DICTATE_MOSHI_API_KEY"
    assert f"set {variable}" in endpoint.refused_advice


def test_the_environment_supplies_secrets_and_wins_over_the_keyring() -> None:
    env = {
        "KYUTAI_DICTATE_TOKEN": "env-tok",
        "KYUTAI_DICTATE_MOSHI_API_KEY": "env-key",
        "MODAL_KEY": "wk-env",
        "MODAL_SECRET": "ws-env",
    }
    for lookup in (secret_lookup(env, KEYRING.get), secret_lookup(env, unreadable)):
        assert endpoint_for(PROXY, lookup).headers == (("Authorization", "Bearer env-tok"),)
        assert endpoint_for(MOSHI, lookup).headers == (("kyutai-api-key", "env-key"),)
        assert endpoint_for(MODAL, lookup).headers == (
            ("Modal-Key", "wk-env"),
            ("Modal-Secret", "ws-env"),
        )
    refused = endpoint_for(PROXY, secret_lookup(env, KEYRING.get)).refused_advice
    assert refused == (
        "the server refused the token from the environment (KYUTAI_DICTATE_TOKEN): check it"
    )


def test_a_blank_environment_variable_falls_back_to_the_keyring() -> None:
    lookup = secret_lookup({"KYUTAI_DICTATE_TOKEN": "  "}, KEYRING.get)
    endpoint = endpoint_for(PROXY, lookup)
    assert endpoint.headers == (("Authorization", "Bearer tok"),)
    assert "saved in the system keyring" in endpoint.refused_advice


def test_modal_without_a_keyring_points_to_the_environment() -> None:
    with pytest.raises(EndpointError) as missing:
        endpoint_for(MODAL, NO_KEYRING)
    message = str(missing.value)
    assert message.startswith("the Modal proxy auth key is missing: the keyring could not be read")
    assert "set MODAL_KEY in the app's environment" in message
    half = secret_lookup({"MODAL_KEY": "wk-env"}, unreadable)
    with pytest.raises(EndpointError, match=r"proxy auth secret is missing.*set MODAL_SECRET"):
        endpoint_for(MODAL, half)


def test_the_moshi_api_key_variable_is_not_the_proxys_backend_key() -> None:
    # KYUTAI_DICTATE_BACKEND_KEY is the proxy's own setting (the key it sends to moshi-server).
    lookup = secret_lookup({"KYUTAI_DICTATE_BACKEND_KEY": "proxy-side"}, {}.get)
    assert endpoint_for(MOSHI, lookup).headers == ()


def test_modal_accepts_another_apps_label() -> None:
    """The original service's app and bench --compare-gpus' apps have labels of their own."""
    label = "kyutai-stt-rust-kyutaisttrustservice-serve"
    backend = BackendSettings(BackendKind.MODAL, modal_workspace="alice", modal_label=label)
    endpoint = endpoint_for(backend, SECRETS)
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
    endpoint = endpoint_for(backend, SECRETS)
    host = "a-long-workspace-name--kyutai-stt-rust-kyutaisttrust-8f3a2c.modal.run"
    assert endpoint.url == f"wss://{host}/v1/stream"
    assert endpoint.headers == (("Modal-Key", "wk-1"), ("Modal-Secret", "ws-2"))


def test_a_modal_host_name_modal_would_shorten_asks_for_the_full_url() -> None:
    label = "kyutai-stt-rust-kyutaisttrustservice-serve"
    backend = BackendSettings(
        BackendKind.MODAL, modal_workspace="my-team-workspace-name", modal_label=label
    )
    with pytest.raises(EndpointError, match="use the app's full URL"):
        endpoint_for(backend, SECRETS)


@pytest.mark.parametrize("variable", ["KYUTAI_DICTATE_TOKEN", "MODAL_KEY"])
def test_a_secret_that_cannot_be_a_header_is_refused_without_showing_it(variable: str) -> None:
    env = {"MODAL_KEY": "wk-1", "MODAL_SECRET": "ws-2", variable: "s3cret-line1\nline2"}
    backend = MODAL if variable == "MODAL_KEY" else PROXY
    with pytest.raises(EndpointError) as refused:
        endpoint_for(backend, secret_lookup(env, {}.get))
    message = str(refused.value)
    assert f"from the environment ({variable}) contains whitespace" in message
    assert "s3cret" not in message
    assert "line2" not in message
