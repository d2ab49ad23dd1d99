"""The URL of a Modal web endpoint, built and read back in one place (server.protocol.modal_url).

Modal serves a web endpoint labelled LABEL in workspace WORKSPACE at
https://WORKSPACE--LABEL.modal.run (modal-labs/modal-client: the URL `modal deploy` prints).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.cli.deploy import Deployed, remember
from app.core.endpoint import EndpointError, modal_stream_url
from app.core.settings import BackendKind, BackendSettings
from app.desktop import settings_store
from server.protocol import modal_url

PART = st.from_regex(r"[a-z0-9]([a-z0-9-]{0,18}[a-z0-9])?", fullmatch=True)
WORKSPACE = PART.filter(lambda w: "--" not in w)  # Modal splits the host at the first "--"


@given(WORKSPACE, PART)
def test_both_forms_read_back_to_the_workspace_and_label(workspace: str, label: str) -> None:
    web = modal_url.web_url(workspace, label)
    stream = modal_url.stream_url(workspace, label)
    assert web == f"https://{workspace}--{label}.modal.run"
    assert stream == f"wss://{workspace}--{label}.modal.run/v1/stream"
    assert modal_url.parse(web) == modal_url.parse(stream) == (workspace, label)
    assert modal_url.websocket_url(web) == stream


@given(WORKSPACE, PART)
def test_every_place_that_needs_the_url_builds_the_same_one(workspace: str, label: str) -> None:
    stream = modal_url.stream_url(workspace, label)
    backend = BackendSettings(BackendKind.MODAL, modal_workspace=workspace, modal_label=label)
    assert backend.stream_url() == stream
    assert modal_stream_url(workspace, label) == stream


def test_a_deployed_modal_url_is_saved_as_workspace_and_label(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    remember(Deployed(modal_url.websocket_url("https://my-team--dictate-a10g.modal.run")), config)
    assert settings_store.load(config).backend == BackendSettings(
        BackendKind.MODAL, modal_workspace="my-team", modal_label="dictate-a10g"
    )


@pytest.mark.parametrize(
    "url",
    [
        "wss://proxy.example.com/v1/stream",
        "https://modal.run",
        "https://nolabel.modal.run",
        "wss://a--b.modal.run.example.com/v1/stream",
        "ftp://a--b.modal.run",
    ],
)
def test_other_urls_are_not_modal_endpoints(url: str) -> None:
    assert modal_url.parse(url) is None


@pytest.mark.parametrize(
    ("workspace", "label", "message"),
    [
        ("my team", "x", "workspace='my team' is not a valid host name part"),
        ("me", "-x", "label='-x' is not a valid host name part"),
        ("w" * 40, "l" * 30, "longer than 63 characters, so Modal shortened it"),
    ],
)
def test_parts_that_make_no_host_are_refused(workspace: str, label: str, message: str) -> None:
    with pytest.raises(modal_url.ModalUrlError, match=message):
        modal_url.check(workspace, label)
    with pytest.raises(EndpointError):  # the app names where the values came from
        modal_stream_url(workspace, label)
