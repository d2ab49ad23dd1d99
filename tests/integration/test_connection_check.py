"""The settings dialog's "Test connection" against the real proxy and moshi-server double."""

from __future__ import annotations

import socket

import pytest

from app.backend import connection_check
from app.backend.connection_check import CheckTimeout, check_backend, check_connection
from app.backend.stream_client import ConnectError, StreamClient, Unauthorized
from app.core.credentials import Secret, SecretLookup, secret_lookup
from app.core.endpoint import Endpoint, EndpointError
from app.core.settings import BackendKind, BackendSettings
from tests.conftest import DoubleFactory, ProxyFactory
from tests.support.original_proxy import original_proxy


def form(values: dict[Secret, str], env: dict[str, str] | None = None) -> SecretLookup:
    """The dialog's lookup: the environment first, then what the form holds."""
    return secret_lookup(env or {}, values.get)


async def test_a_working_backend_is_timed(moshi_double: DoubleFactory, proxy: ProxyFactory) -> None:
    async with moshi_double() as double, proxy(double.url) as server:
        url = server.url
        report = await check_connection(Endpoint(url), timeout=30)
    assert 0 < report.connected_s <= report.ready_s
    assert report.round_trip_s > 0
    assert not report.cold_start
    line = report.describe()
    assert url in line
    assert "ready after" in line
    assert "round trip" in line


async def test_a_slow_backend_is_reported_as_starting_up(
    moshi_double: DoubleFactory, proxy: ProxyFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(connection_check, "COLD_START_S", 0.5)  # instead of 5 s
    async with moshi_double(warmup_seconds=0.8) as double, proxy(double.url) as server:
        report = await check_connection(Endpoint(server.url), timeout=30)
    assert report.ready_s >= 0.8
    assert report.cold_start
    assert "starting up" in report.describe()


async def test_the_dialog_check_uses_the_form_secrets(
    moshi_double: DoubleFactory, proxy: ProxyFactory
) -> None:
    async with moshi_double() as double, proxy(double.url, tokens=frozenset({"s3cret"})) as server:
        backend = BackendSettings(BackendKind.PROXY, url=server.url)
        line = await check_backend(backend, form({Secret.PROXY_TOKEN: "s3cret"}), timeout=30)
        assert line.startswith("Connected to")
        with pytest.raises(Unauthorized, match="401") as refused:
            await check_backend(backend, form({}), timeout=30)
        assert refused.value.advice == (
            "the server needs a token, and none is set: "
            "enter it in Settings or set KYUTAI_DICTATE_TOKEN"
        )
        env = {"KYUTAI_DICTATE_TOKEN": "s3cret"}
        line = await check_backend(backend, form({}, env), timeout=30)
        assert line.startswith("Connected to")


async def test_a_wrong_token_is_unauthorized(
    moshi_double: DoubleFactory, proxy: ProxyFactory
) -> None:
    async with moshi_double() as double, proxy(double.url, tokens=frozenset({"right"})) as server:
        endpoint = Endpoint(server.url, (("Authorization", "Bearer wrong"),))
        with pytest.raises(Unauthorized) as caught:
            await check_connection(endpoint, timeout=30)
    assert "wrong" not in str(caught.value)


async def test_nothing_listening_is_a_connect_error() -> None:
    with socket.socket() as sock:  # a port that was free a moment ago
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(ConnectError, match="connection refused"):
        await check_connection(Endpoint(f"ws://127.0.0.1:{port}/v1/stream"), timeout=10)


async def test_a_backend_that_never_gets_ready_times_out(
    moshi_double: DoubleFactory, proxy: ProxyFactory
) -> None:
    async with moshi_double(warmup_seconds=30) as double, proxy(double.url) as server:
        with pytest.raises(CheckTimeout, match=r"within 1 s \(waiting for the backend"):
            await check_connection(Endpoint(server.url), timeout=1)


async def test_another_client_can_be_passed_in(
    moshi_double: DoubleFactory, proxy: ProxyFactory
) -> None:
    opened: list[str] = []

    def connect(endpoint: Endpoint):  # type: ignore[no-untyped-def]
        opened.append(endpoint.url)
        return StreamClient.connect(endpoint)

    async with moshi_double() as double, proxy(double.url) as server:
        await check_connection(Endpoint(server.url), timeout=30, connect=connect)
        assert opened == [server.url]


async def test_incomplete_settings_say_what_is_missing() -> None:
    backend = BackendSettings(BackendKind.MODAL, modal_workspace="me")
    with pytest.raises(
        EndpointError,
        match="Modal proxy auth secret is missing: enter it in Settings or set MODAL_SECRET",
    ):
        await check_backend(backend, form({Secret.MODAL_KEY: "k"}))


async def test_the_original_service_is_named_not_timed_for_a_ready_it_never_sends(
    moshi_double: DoubleFactory,
) -> None:
    async with moshi_double() as double, original_proxy(double.url) as service:
        report = await check_connection(Endpoint(service.url), timeout=30)
    assert report.original
    line = report.describe()
    assert "original service's older protocol" in line
    assert "ready after" not in line
