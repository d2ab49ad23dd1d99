"""The settings dialog's pure parts: choices, validation, conversions, the deploy command."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from app.audio.microphone import InputDevice
from app.core.credentials import Secret
from app.core.settings import BackendKind, BackendSettings, HotkeyMode, ServerProtocol, TypingMethod
from app.ui.settings.form import (
    MODE_LABELS,
    TYPING_LABELS,
    BackendForm,
    backend_from_form,
    backend_problem,
    clean_output,
    deploy_command,
    deployed_message,
    hotkey_problem,
    last_lines,
    microphone_choices,
    opacity_from_slider,
    secrets_to_store,
    ssh_target_problem,
    visible_rows,
)


def device(index: int, name: str) -> InputDevice:
    return InputDevice(index, name, "ALSA", 1, 48000.0, is_default=False)


def test_every_choice_has_a_label() -> None:
    assert set(TYPING_LABELS) == set(TypingMethod)
    assert set(MODE_LABELS) == set(HotkeyMode)


def test_microphones_by_name_with_the_default_first() -> None:
    devices = [device(0, "pulse"), device(1, "USB"), device(5, "USB")]
    items, index = microphone_choices(devices, "USB")
    assert items == [("System default", ""), ("pulse", "pulse"), ("USB", "USB")]
    assert index == 2
    assert microphone_choices(devices, "")[1] == 0


def test_a_saved_microphone_that_is_gone_is_kept() -> None:
    items, index = microphone_choices([device(0, "pulse")], "Blue Yeti")
    assert items[index] == ("Blue Yeti (not connected)", "Blue Yeti")


def test_only_new_non_empty_secrets_are_stored() -> None:
    typed = {Secret.PROXY_TOKEN: " new ", Secret.MODAL_KEY: "same", Secret.MODAL_SECRET: ""}
    loaded = {Secret.MODAL_KEY: "same", Secret.MODAL_SECRET: "kept"}
    assert secrets_to_store(typed, loaded) == {Secret.PROXY_TOKEN: "new"}


def test_the_form_becomes_backend_settings() -> None:
    original = BackendSettings(BackendKind.MODAL, modal_workspace="old", modal_label="x")
    form = BackendForm(BackendKind.PROXY, " ws://h/v1/stream ", "old", "")
    assert backend_from_form(form, original) == BackendSettings(
        BackendKind.PROXY, "ws://h/v1/stream", "old", "kyutai-dictate"
    )
    assert backend_from_form(BackendForm(None), original).kind is None


def test_rows_per_kind() -> None:
    assert visible_rows(None) == frozenset()
    assert visible_rows(BackendKind.MOSHI) == {"url", "model", Secret.MOSHI_API_KEY}
    # Modal: a workspace and label, or the app's full URL; Modal and proxies: the protocol.
    assert {"url", "modal_label", "protocol"} <= visible_rows(BackendKind.MODAL)
    assert "protocol" in visible_rows(BackendKind.PROXY)


def test_the_form_keeps_the_protocol_it_shows() -> None:
    form = BackendForm(BackendKind.PROXY, "ws://h", protocol=ServerProtocol.ORIGINAL)
    assert backend_from_form(form, BackendSettings()).protocol is ServerProtocol.ORIGINAL
    kept = BackendSettings(protocol=ServerProtocol.CURRENT)
    assert backend_from_form(BackendForm(BackendKind.PROXY, "ws://h"), kept) == replace(
        kept, kind=BackendKind.PROXY, url="ws://h"
    )


@pytest.mark.parametrize(
    ("form", "problem"),
    [
        (BackendForm(BackendKind.PROXY, "ftp://h"), "must start with ws://"),
        (BackendForm(BackendKind.MOSHI, "ws://h:99999"), "not a valid URL"),
        (BackendForm(BackendKind.MODAL, modal_workspace="a b"), "Workspace='a b'"),
        (BackendForm(BackendKind.MODAL, modal_label="a.b"), "App label='a.b'"),
        (BackendForm(BackendKind.PROXY, ""), None),  # blank: not configured yet, not wrong
        (BackendForm(BackendKind.PROXY, "wss://h"), None),
        (BackendForm(BackendKind.MODAL, "https://w--other-app.modal.run"), None),
        (BackendForm(BackendKind.MODAL, "w--app.modal.run"), "must start with ws://"),
        (BackendForm(BackendKind.MODAL, modal_workspace="w" * 30, modal_label="l" * 32), "URL"),
        (BackendForm(None, "ftp://ignored"), None),
    ],
)
def test_backend_problems(form: BackendForm, problem: str | None) -> None:
    found = backend_problem(form)
    if problem is None:
        assert found is None
    else:
        assert found is not None
        assert problem in found


def test_hotkey_problems() -> None:
    assert hotkey_problem("<ctrl>+<alt>+d") is None
    assert "exactly one key" in (hotkey_problem("<ctrl>") or "")


@pytest.mark.parametrize(
    ("text", "ok"), [("root@pve", True), ("", False), ("-oProxyCommand=x", False), ("a b", False)]
)
def test_ssh_targets(text: str, ok: bool) -> None:
    assert (ssh_target_problem(text) is None) == ok


def test_the_deploy_command() -> None:
    command = deploy_command("proxmox", ["--host", "root@pve"], Path("/c.toml"), app=["kd"])
    assert command == ["kd", "deploy", "proxmox", "--host", "root@pve", "--config", "/c.toml"]
    assert deploy_command("modal", [], None, app=["kd"]) == ["kd", "deploy", "modal"]
    assert deploy_command("status", [], Path("/c.toml"), app=["kd"]) == ["kd", "deploy", "status"]


def test_output_cleaning_and_last_lines() -> None:
    assert clean_output("\x1b[32mok\x1b[0m\r\nbuilding 10%\rbuilding 20%\n") == (
        "ok\nbuilding 10%\nbuilding 20%\n"
    )
    assert last_lines("a\n\nb\nc\n", 2) == "b\nc"


def test_opacity_unmoved_keeps_its_exact_value() -> None:
    assert opacity_from_slider(33, 0.333) == 0.333
    assert opacity_from_slider(50, 0.333) == 0.5


def test_a_modal_deploy_reminds_of_the_proxy_auth_token() -> None:
    backend = BackendSettings(BackendKind.MODAL, modal_workspace="me")
    assert "Proxy Auth Tokens" in deployed_message(backend, {})
    full = {Secret.MODAL_KEY: "k", Secret.MODAL_SECRET: "s"}
    assert deployed_message(backend, full) == (
        "Deployed: wss://me--kyutai-dictate.modal.run/v1/stream"
    )
