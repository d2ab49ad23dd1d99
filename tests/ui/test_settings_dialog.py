"""The settings dialog, driven through its widgets (synchronous Qt, offscreen platform)."""

from __future__ import annotations

import asyncio
import os
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import keyring
import pytest
import tomli_w
from keyrings.alt.file import PlaintextKeyring
from PySide6.QtWidgets import QApplication

from app.audio.microphone import InputDevice, MicrophoneError
from app.core.credentials import Secret, SecretReadError, secret_lookup
from app.core.settings import (
    BackendKind,
    BackendSettings,
    DictationSettings,
    HistorySettings,
    HotkeyMode,
    OverlaySettings,
    ServerProtocol,
    Settings,
    SoundSettings,
    StartupSettings,
    TypingMethod,
    to_toml_dict,
)
from app.core.voice_edits import Rule
from app.desktop import secret_store, settings_store
from app.ui.settings.dialog import SettingsDialog
from app.ui.settings.form import BACKEND_LABELS, FIRST_RUN_TEXT, TYPING_LABELS
from tests.support.file_keyring import FileKeyring


@pytest.fixture
def keyring_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    store = tmp_path / "keyring.json"
    monkeypatch.setenv("KYUTAI_TEST_KEYRING_FILE", str(store))
    previous = keyring.get_keyring()
    keyring.set_keyring(FileKeyring())
    yield store
    keyring.set_keyring(previous)


ROOT = Path(__file__).resolve().parents[2]
MODAL_STAND_IN = ROOT / "tests/support/modal_stand_in"


def wait_until(predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        QApplication.processEvents()
        time.sleep(0.005)


class FakeMeter:
    def __init__(self, peak: float = 0.5, error: str | None = None) -> None:
        self.peak = peak
        self.error = error
        self.opened: list[int | None] = []
        self.closed = 0
        self.is_open = False

    def open(self, device: int | None) -> None:
        if self.error:
            raise MicrophoneError(self.error)
        self.opened.append(device)
        self.is_open = True

    def close(self) -> None:
        self.closed += 1
        self.is_open = False

    def take_peak(self) -> float:
        return self.peak


def device(index: int, name: str) -> InputDevice:
    return InputDevice(index, name, "ALSA", 1, 48000.0, is_default=False)


DEVICES = [device(3, "USB Headset"), device(7, "pulse")]


def make_dialog(
    settings: Settings | None = None, **options: object
) -> tuple[SettingsDialog, list[Settings]]:
    kwargs: dict[str, object] = {
        "find_secret": secret_lookup({}, secret_store.load),
        "store_secret": secret_store.store,
        "devices": DEVICES,
        "check": None,
        "meter": FakeMeter(),
        "autostart_supported": True,
    }
    kwargs.update(options)
    dialog = SettingsDialog(settings or Settings(), **kwargs)  # type: ignore[arg-type]
    emitted: list[Settings] = []
    dialog.saved.connect(emitted.append)
    return dialog, emitted


def test_round_trip_with_a_proxy_backend(qapp: QApplication, keyring_file: Path) -> None:
    original = Settings(
        BackendSettings(BackendKind.PROXY, url="ws://old:8000/v1/stream"),
        DictationSettings(microphone="pulse"),
        OverlaySettings(geometry=(10, 20, 300, 80)),
    )
    dialog, emitted = make_dialog(original)
    assert dialog.backend.url_edit.text() == "ws://old:8000/v1/stream"
    dialog.backend.url_edit.setText("wss://pve.lan:8000/v1/stream")
    dialog.backend.secret_edits[Secret.PROXY_TOKEN].setText("t0ken-123")
    dialog.dictation.hotkey_edit.setText("<ctrl>+<alt>+d")
    dialog.dictation.mode_combo.setCurrentIndex(1)
    dialog.dictation.leading_space.setChecked(True)
    dialog.dictation.focus_guard.setChecked(False)
    dialog.dictation.paste_fallback.setChecked(True)
    typing = list(TYPING_LABELS).index(TypingMethod.CLIPBOARD)
    dialog.dictation.typing_combo.setCurrentIndex(typing)
    dialog.microphone.device_combo.setCurrentIndex(1)  # USB Headset
    dialog.overlay.show_check.setChecked(False)
    dialog.overlay.latency_check.setChecked(True)
    dialog.overlay.opacity_slider.setValue(60)
    dialog.overlay.at_login_check.setChecked(True)

    dialog.save_button.click()

    assert emitted == [
        Settings(
            BackendSettings(BackendKind.PROXY, url="wss://pve.lan:8000/v1/stream"),
            DictationSettings(
                hotkey="<ctrl>+<alt>+d",
                mode=HotkeyMode.TOGGLE,
                microphone="USB Headset",
                typing=TypingMethod.CLIPBOARD,
                leading_space=True,
                focus_guard=False,
                paste_fallback=True,
            ),
            OverlaySettings(show=False, latency=True, opacity=0.6, geometry=(10, 20, 300, 80)),
            StartupSettings(at_login=True),
        )
    ]
    assert dialog.result() == SettingsDialog.DialogCode.Accepted
    assert secret_store.load(Secret.PROXY_TOKEN) == "t0ken-123"
    config = tomli_w.dumps(to_toml_dict(emitted[0]))
    assert "t0ken" not in config
    assert "t0ken" not in repr(emitted[0])


def test_unchanged_settings_come_back_unchanged(qapp: QApplication, keyring_file: Path) -> None:
    original = Settings(
        BackendSettings(BackendKind.MODAL, modal_workspace="me", modal_label="custom"),
        overlay=OverlaySettings(opacity=0.333),
    )
    dialog, emitted = make_dialog(original)
    dialog.save_button.click()
    assert emitted == [original]
    assert not keyring_file.exists()  # nothing typed, nothing stored


def test_modal_secrets_go_to_the_keyring(qapp: QApplication, keyring_file: Path) -> None:
    secret_store.store(Secret.MODAL_KEY, "wk-old")
    dialog, emitted = make_dialog(Settings(), first_run=True)
    assert dialog.header.isVisibleTo(dialog)
    assert dialog.header.text() == FIRST_RUN_TEXT
    assert dialog.tabs.currentWidget() is dialog.backend
    assert dialog.backend.kind() is None
    dialog.backend.kind_combo.setCurrentIndex(0)
    assert dialog.backend.secret_edits[Secret.MODAL_KEY].text() == "wk-old"  # from the keyring
    dialog.backend.workspace_edit.setText("my-team")
    dialog.backend.secret_edits[Secret.MODAL_KEY].setText("wk-new")
    dialog.backend.secret_edits[Secret.MODAL_SECRET].setText("ws-secret")
    dialog.save_button.click()
    backend = emitted[0].backend
    assert backend == BackendSettings(BackendKind.MODAL, modal_workspace="my-team")
    assert backend.stream_url() == "wss://my-team--kyutai-dictate.modal.run/v1/stream"
    assert secret_store.load(Secret.MODAL_KEY) == "wk-new"
    assert secret_store.load(Secret.MODAL_SECRET) == "ws-secret"
    assert "ws-secret" not in repr(emitted[0])


def test_an_emptied_secret_field_deletes_the_saved_secret(
    qapp: QApplication, keyring_file: Path
) -> None:
    """Moving to a server without a token: the old server's token must not be sent there."""
    secret_store.store(Secret.PROXY_TOKEN, "old-servers-token")
    secret_store.store(Secret.MODAL_KEY, "untouched")
    dialog, _ = make_dialog(
        Settings(BackendSettings(BackendKind.PROXY, url="ws://h/v1/stream")),
        delete_secret=secret_store.delete,
    )
    dialog.backend.url_edit.setText("ws://other/v1/stream")
    dialog.backend.secret_edits[Secret.PROXY_TOKEN].clear()
    dialog.save_button.click()
    assert secret_store.load(Secret.PROXY_TOKEN) is None
    assert secret_store.load(Secret.MODAL_KEY) == "untouched"


def test_the_original_services_modal_url_and_protocol_are_saved(
    qapp: QApplication, keyring_file: Path
) -> None:
    dialog, emitted = make_dialog(Settings(BackendSettings(BackendKind.MODAL)))
    url = "https://me--kyutai-stt-rust-kyutaisttrustservice-serve.modal.run"
    dialog.backend.url_edit.setText(url)
    dialog.backend.protocol_combo.setCurrentIndex(
        list(ServerProtocol).index(ServerProtocol.ORIGINAL)
    )
    dialog.backend.secret_edits[Secret.MODAL_KEY].setText("wk-1")
    dialog.backend.secret_edits[Secret.MODAL_SECRET].setText("ws-2")
    dialog.save_button.click()
    backend = emitted[-1].backend
    assert (backend.kind, backend.url) == (BackendKind.MODAL, url)
    assert backend.protocol is ServerProtocol.ORIGINAL
    assert backend.configured


def test_the_kind_shows_only_its_fields(qapp: QApplication, keyring_file: Path) -> None:
    dialog, _ = make_dialog()
    section = dialog.backend
    secrets = section.secret_edits
    every = [
        *(section.url_edit, section.workspace_edit, section.label_edit, section.model_combo),
        section.protocol_combo,
        *secrets.values(),
    ]
    assert all(widget.isHidden() for widget in every)  # nothing chosen yet
    assert not section.test_button.isEnabled()

    section.kind_combo.setCurrentIndex(0)  # Modal: workspace and label, or the full URL
    shown = {section.url_edit, section.workspace_edit, section.label_edit}
    shown |= {section.protocol_combo, secrets[Secret.MODAL_KEY], secrets[Secret.MODAL_SECRET]}
    assert {w for w in every if not w.isHidden()} == shown
    assert "modal.run" in section.url_edit.placeholderText()

    section.kind_combo.setCurrentIndex(1)  # proxy
    shown = {section.url_edit, section.protocol_combo, secrets[Secret.PROXY_TOKEN]}
    assert {w for w in every if not w.isHidden()} == shown
    assert "/v1/stream" in section.url_edit.placeholderText()

    section.kind_combo.setCurrentIndex(2)  # moshi-server
    shown = {section.url_edit, section.model_combo, secrets[Secret.MOSHI_API_KEY]}
    assert {w for w in every if not w.isHidden()} == shown
    assert "/api/asr-streaming" in section.url_edit.placeholderText()
    assert all(edit.echoMode() == edit.EchoMode.Password for edit in secrets.values())


def test_an_invalid_hotkey_disables_save_with_a_message(
    qapp: QApplication, keyring_file: Path
) -> None:
    dialog, emitted = make_dialog()
    assert dialog.save_button.isEnabled()
    dialog.dictation.hotkey_edit.setText("d")
    assert not dialog.save_button.isEnabled()
    assert not dialog.dictation.hotkey_error.isHidden()
    assert "add a modifier" in dialog.dictation.hotkey_error.text()
    dialog.save()  # even if called, nothing is emitted
    assert emitted == []
    assert "add a modifier" in dialog.error_label.text()
    dialog.dictation.hotkey_edit.setText("<ctrl>+d")
    assert dialog.save_button.isEnabled()
    assert dialog.dictation.hotkey_error.isHidden()
    assert dialog.error_label.isHidden()


def test_an_invalid_url_disables_save(qapp: QApplication, keyring_file: Path) -> None:
    dialog, _ = make_dialog(Settings(BackendSettings(BackendKind.PROXY)))
    dialog.backend.url_edit.setText("https://pve.lan:8000")
    assert not dialog.save_button.isEnabled()
    assert "did you mean wss://" in dialog.backend.problem_label.text()
    dialog.backend.url_edit.setText("wss://pve.lan:8000")
    assert dialog.save_button.isEnabled()


def test_a_keyring_that_refuses_keeps_the_dialog_open(
    qapp: QApplication, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    previous = keyring.get_keyring()
    keyring.set_keyring(PlaintextKeyring())  # plain text: refused by secret_store
    try:
        dialog, emitted = make_dialog(Settings(BackendSettings(BackendKind.PROXY)))
        dialog.show()
        dialog.backend.url_edit.setText("wss://pve.lan/v1/stream")
        dialog.backend.secret_edits[Secret.PROXY_TOKEN].setText("t0ken")
        dialog.save_button.click()
        assert emitted == []
        assert dialog.isVisible()
        assert "no secure keyring" in dialog.error_label.text()
        assert not dialog.error_label.isHidden()
        assert dialog.backend.secret_edits[Secret.PROXY_TOKEN].text() == "t0ken"  # not lost
        assert dialog.backend.url_edit.text() == "wss://pve.lan/v1/stream"
        dialog.reject()
    finally:
        keyring.set_keyring(previous)


def test_a_keyring_that_cannot_be_read_is_said(qapp: QApplication) -> None:
    def refuse(secret: Secret) -> str | None:
        raise SecretReadError("the keyring is locked")

    dialog, _ = make_dialog(find_secret=secret_lookup({}, refuse), store_secret=lambda s, v: None)
    assert dialog.backend.keyring_label.text() == "Saved keys cannot be read: the keyring is locked"


def test_without_a_secure_keyring_settings_offer_the_environment(
    qapp: QApplication, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    previous = keyring.get_keyring()
    keyring.set_keyring(PlaintextKeyring())
    try:
        dialog, emitted = make_dialog(
            Settings(BackendSettings(BackendKind.PROXY)),
            keyring_refusal=secret_store.unsafe_keyring(),
        )
        dialog.show()
        note = dialog.backend.keyring_label.text()
        assert "No secure keyring on this desktop (keyrings.alt.file.PlaintextKeyring)" in note
        for name in ("KYUTAI_DICTATE_TOKEN", "MODAL_KEY", "KYUTAI_DICTATE_MOSHI_API_KEY"):
            assert name in note
        token = dialog.backend.secret_edits[Secret.PROXY_TOKEN]
        assert not token.isEnabled()
        assert token.placeholderText() == "no secure keyring: set KYUTAI_DICTATE_TOKEN"
        dialog.backend.url_edit.setText("ws://127.0.0.1:8000/v1/stream")
        dialog.save_button.click()  # not a dead end: a backend without a key is saved
        assert [s.backend.url for s in emitted] == ["ws://127.0.0.1:8000/v1/stream"]
    finally:
        keyring.set_keyring(previous)
    assert not (tmp_path / ".local").exists() or not list((tmp_path / ".local").rglob("*.cfg"))


def test_a_secret_from_the_environment_is_shown_and_never_stored(
    qapp: QApplication, keyring_file: Path
) -> None:
    env = {"MODAL_KEY": "wk-env"}
    dialog, emitted = make_dialog(
        Settings(BackendSettings(BackendKind.MODAL, modal_workspace="alice")),
        find_secret=secret_lookup(env, secret_store.load),
    )
    key = dialog.backend.secret_edits[Secret.MODAL_KEY]
    assert not key.isEnabled()
    assert key.text() == ""  # the value itself is not shown
    assert key.placeholderText() == "set by MODAL_KEY in the environment"
    assert key.toolTip().startswith("From the environment (MODAL_KEY).")
    secret_field = dialog.backend.secret_edits[Secret.MODAL_SECRET]
    assert secret_field.isEnabled()
    assert secret_field.toolTip().startswith("Not set.")
    secret_field.setText("ws-typed")
    dialog.save_button.click()
    assert len(emitted) == 1
    assert secret_store.load(Secret.MODAL_SECRET) == "ws-typed"
    assert secret_store.load(Secret.MODAL_KEY) is None


def test_a_saved_microphone_that_is_not_connected_stays_selected(
    qapp: QApplication, keyring_file: Path
) -> None:
    dialog, emitted = make_dialog(Settings(dictation=DictationSettings(microphone="Blue Yeti")))
    combo = dialog.microphone.device_combo
    labels = [combo.itemText(i) for i in range(combo.count())]
    assert labels == ["System default", "USB Headset", "pulse", "Blue Yeti (not connected)"]
    assert combo.currentText() == "Blue Yeti (not connected)"
    dialog.save_button.click()
    assert emitted[0].dictation.microphone == "Blue Yeti"


def test_the_level_meter_runs_only_while_the_microphone_page_is_shown(
    qapp: QApplication, keyring_file: Path
) -> None:
    meter = FakeMeter(peak=0.5)
    dialog, _ = make_dialog(Settings(dictation=DictationSettings(microphone="pulse")), meter=meter)
    dialog.show()
    assert meter.opened == []  # the backend page is in front
    dialog.tabs.setCurrentWidget(dialog.microphone)
    assert meter.opened == [7]
    wait_until(lambda: dialog.microphone.level_bar.value() == 90)  # -6 dBFS
    dialog.microphone.device_combo.setCurrentIndex(0)  # the system default
    assert meter.opened == [7, None]
    dialog.tabs.setCurrentWidget(dialog.overlay)
    assert not meter.is_open
    dialog.tabs.setCurrentWidget(dialog.microphone)
    assert meter.is_open
    dialog.reject()
    assert not meter.is_open
    assert not dialog.microphone.metering


def test_a_microphone_that_cannot_be_opened_shows_why(
    qapp: QApplication, keyring_file: Path
) -> None:
    meter = FakeMeter(error="cannot open this microphone: Invalid sample rate")
    dialog, _ = make_dialog(Settings(dictation=DictationSettings(microphone="Gone")), meter=meter)
    dialog.show()
    dialog.tabs.setCurrentWidget(dialog.microphone)
    assert "Gone is not connected" in dialog.microphone.meter_label.text()
    dialog.microphone.device_combo.setCurrentIndex(1)
    assert "Invalid sample rate" in dialog.microphone.meter_label.text()
    assert dialog.microphone.level_bar.value() == 0
    dialog.reject()


@pytest.fixture
def event_loop_for_qt() -> Iterator[asyncio.AbstractEventLoop]:
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    yield loop
    asyncio.set_event_loop(None)
    loop.close()


def test_test_connection_shows_what_the_check_says(
    qapp: QApplication, keyring_file: Path, event_loop_for_qt: asyncio.AbstractEventLoop
) -> None:
    calls: list[tuple[BackendSettings, dict[Secret, str]]] = []

    async def check(backend: BackendSettings, secrets: dict[Secret, str]) -> str:
        calls.append((backend, secrets))
        await asyncio.sleep(0)
        return "Connected to ws://h/v1/stream in 0.01 s"

    dialog, _ = make_dialog(Settings(BackendSettings(BackendKind.PROXY)), check=check)
    dialog.backend.url_edit.setText("ws://h/v1/stream")
    dialog.backend.secret_edits[Secret.PROXY_TOKEN].setText("typed-not-saved")
    dialog.backend.test_button.click()
    assert not dialog.backend.test_button.isEnabled()
    assert dialog.check_task is not None
    event_loop_for_qt.run_until_complete(dialog.check_task)
    assert dialog.backend.check_label.text() == "Connected to ws://h/v1/stream in 0.01 s"
    assert dialog.backend.test_button.isEnabled()
    assert calls == [
        (
            BackendSettings(BackendKind.PROXY, url="ws://h/v1/stream"),
            {Secret.PROXY_TOKEN: "typed-not-saved"},
        )
    ]
    assert not keyring_file.exists()  # testing stores nothing


def test_test_connection_shows_the_error(
    qapp: QApplication, keyring_file: Path, event_loop_for_qt: asyncio.AbstractEventLoop
) -> None:
    async def check(backend: BackendSettings, secrets: dict[Secret, str]) -> str:
        raise ConnectionError("connection refused by ws://h/v1/stream")

    dialog, _ = make_dialog(
        Settings(BackendSettings(BackendKind.PROXY, url="ws://h/v1/stream")), check=check
    )
    dialog.backend.test_button.click()
    assert dialog.check_task is not None
    event_loop_for_qt.run_until_complete(dialog.check_task)
    assert dialog.backend.check_label.text() == "connection refused by ws://h/v1/stream"


def test_without_a_check_there_is_no_test_button(qapp: QApplication, keyring_file: Path) -> None:
    dialog, _ = make_dialog()
    assert dialog.backend.test_button.isHidden()


STAND_IN = """
import sys, time
target, host, config = sys.argv[1:4]
print(f"deploying to {target} on {host}", flush=True)
for step in ("creating the container", "installing moshi-server", "starting the proxy"):
    time.sleep(0.05)
    print(step, flush=True)
if host == "root@broken":
    print("pve-host.sh: error: no NVIDIA GPU on this host", file=sys.stderr, flush=True)
    sys.exit(3)
with open(config, "w") as f:
    f.write('[backend]\\nkind = "proxy"\\nurl = "wss://pve.lan:8000/v1/stream"\\n')
print("endpoint: wss://pve.lan:8000/v1/stream", flush=True)
"""


def stand_in(config: Path, runs: list[tuple[str, list[str]]]) -> Callable[..., list[str]]:
    def command(target: str, args: list[str]) -> list[str]:
        runs.append((target, list(args)))
        host = args[-1] if target == "proxmox" else None
        return [sys.executable, "-c", STAND_IN, target, str(host), str(config)]

    return command


def test_deploy_streams_its_output_and_reloads_the_backend(
    qapp: QApplication, keyring_file: Path, tmp_path: Path
) -> None:
    config = tmp_path / "config.toml"
    settings_store.save(Settings(dictation=DictationSettings(hotkey="<f8>")), config)
    runs: list[tuple[str, list[str]]] = []
    dialog, emitted = make_dialog(
        settings_store.load(config),
        config_path=config,
        deploy_command=stand_in(config, runs),
    )
    panel = dialog.deploy
    panel.proxmox_button.click()
    assert "USER@HOST" in panel.status_label.text()  # no host yet: nothing runs
    assert runs == []
    panel.host_edit.setText("root@pve")
    panel.proxmox_button.click()
    assert runs == [("proxmox", ["--host", "root@pve"])]
    assert not panel.modal_button.isEnabled()
    assert not panel.proxmox_button.isEnabled()
    assert not dialog.save_button.isEnabled()
    wait_until(lambda: "creating the container" in panel.log_view.toPlainText())
    assert panel.running  # the output shows while the deploy still runs
    wait_until(lambda: not panel.running)
    log = panel.log_view.toPlainText()
    assert "deploying to proxmox on root@pve" in log
    assert "installing moshi-server" in log
    assert log.index("creating") < log.index("installing") < log.index("starting")
    assert panel.status_label.text().startswith("Deployed: wss://pve.lan:8000/v1/stream")
    assert dialog.backend.kind() is BackendKind.PROXY
    assert dialog.backend.url_edit.text() == "wss://pve.lan:8000/v1/stream"
    assert panel.modal_button.isEnabled()
    assert dialog.save_button.isEnabled()
    dialog.save_button.click()
    assert emitted[0].backend == BackendSettings(BackendKind.PROXY, "wss://pve.lan:8000/v1/stream")
    assert emitted[0].dictation.hotkey == "<f8>"


def test_a_failed_deploy_shows_its_last_lines(
    qapp: QApplication, keyring_file: Path, tmp_path: Path
) -> None:
    config = tmp_path / "config.toml"
    runs: list[tuple[str, list[str]]] = []
    dialog, _ = make_dialog(config_path=config, deploy_command=stand_in(config, runs))
    panel = dialog.deploy
    panel.host_edit.setText("root@broken")
    panel.proxmox_button.click()
    wait_until(lambda: not panel.running)
    status = panel.status_label.text()
    assert "failed (3)" in status
    assert "no NVIDIA GPU on this host" in status
    assert "starting the proxy" in status
    assert dialog.backend.kind() is None  # nothing reloaded
    assert panel.proxmox_button.isEnabled()


def test_a_deploy_command_that_cannot_start_is_reported(
    qapp: QApplication, keyring_file: Path, tmp_path: Path
) -> None:
    missing = str(tmp_path / "no-such-program")
    dialog, _ = make_dialog(deploy_command=lambda target, args: [missing])
    dialog.deploy.modal_button.click()
    wait_until(lambda: not dialog.deploy.running)
    assert "could not start" in dialog.deploy.status_label.text()
    assert dialog.deploy.modal_button.isEnabled()


def test_cancel_during_a_deploy_is_refused_and_quitting_stops_it(
    qapp: QApplication, keyring_file: Path, tmp_path: Path
) -> None:
    script = "import os, time; print('working', os.getpid(), flush=True); time.sleep(60)"
    dialog, _ = make_dialog(deploy_command=lambda target, args: [sys.executable, "-c", script])
    dialog.show()
    dialog.deploy.modal_button.click()
    wait_until(lambda: "working" in dialog.deploy.output)
    pid = int(dialog.deploy.output.split()[1])
    dialog.reject()  # Escape, Cancel or the close button
    assert dialog.isVisible()
    assert dialog.deploy.running
    assert "wait for it to finish" in dialog.deploy.status_label.text()
    assert Path(f"/proc/{pid}").exists()
    dialog.done(0)  # the app quits: the deploy is stopped
    assert not dialog.deploy.running
    assert "stopped" in dialog.deploy.status_label.text()
    assert not Path(f"/proc/{pid}").exists()  # killed and reaped, not left running


def test_the_deploy_log_never_shows_the_proxy_token(
    qapp: QApplication, keyring_file: Path, tmp_path: Path
) -> None:
    script = (
        "import sys, time\n"
        "print('endpoint: ws://10.0.0.5:8000/v1/stream', flush=True)\n"
        "sys.stdout.write('tok'); sys.stdout.flush(); time.sleep(0.3)\n"  # a line in two reads
        "print('en: s3cret-value', flush=True)\n"
        "print('smoke test: ok', flush=True)\n"
        "sys.exit(1)\n"
    )
    dialog, _ = make_dialog(deploy_command=lambda target, args: [sys.executable, "-c", script])
    dialog.deploy.modal_button.click()
    wait_until(lambda: not dialog.deploy.running)
    log = dialog.deploy.log_view.toPlainText()
    assert "token: *** (hidden)" in log
    assert "smoke test: ok" in log
    assert "s3cret" not in log
    assert "s3cret" not in dialog.deploy.status_label.text()


def test_the_default_deploy_command_runs_this_app(qapp: QApplication, tmp_path: Path) -> None:
    from app.desktop.autostart import launch_command
    from app.ui.settings.form import deploy_command

    config = tmp_path / "c.toml"
    assert deploy_command("proxmox", ["--host", "root@pve"], config, launch_command()) == [
        sys.executable, "-m", "app", "deploy", "proxmox", "--host", "root@pve",
        "--config", str(config),
    ]  # fmt: skip
    assert deploy_command("modal", [], None, launch_command())[-2:] == ["deploy", "modal"]


def test_closing_the_dialog_cancels_a_running_check(
    qapp: QApplication, keyring_file: Path, event_loop_for_qt: asyncio.AbstractEventLoop
) -> None:
    started = asyncio.Event()

    async def check(backend: BackendSettings, secrets: dict[Secret, str]) -> str:
        started.set()
        await asyncio.sleep(60)
        return "never"

    dialog, _ = make_dialog(
        Settings(BackendSettings(BackendKind.PROXY, url="ws://h/v1/stream")), check=check
    )
    dialog.backend.test_button.click()
    task = dialog.check_task
    assert task is not None
    event_loop_for_qt.run_until_complete(started.wait())  # the check is under way
    dialog.reject()
    with pytest.raises(asyncio.CancelledError):
        event_loop_for_qt.run_until_complete(task)
    assert "never" not in dialog.backend.check_label.text()


def test_deploy_to_modal_runs_the_real_deploy_command_with_its_progress(
    qapp: QApplication, keyring_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The button runs `kyutai-dictate deploy modal` itself (the `modal` CLI is a stand-in
    that records its call and prints what modal prints): progress shows, the endpoint lands
    in the settings file and the dialog."""
    calls = tmp_path / "calls.log"
    monkeypatch.setenv("PATH", f"{MODAL_STAND_IN}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("STANDIN_LOG", str(calls))
    monkeypatch.setenv("MODAL_TOKEN_ID", "ak-test")
    monkeypatch.setenv("MODAL_TOKEN_SECRET", "as-test")
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    config = tmp_path / "config.toml"
    dialog, _ = make_dialog(config_path=config)
    panel = dialog.deploy
    panel.gpu_box.setCurrentText("A10G")
    panel.model_box.setCurrentIndex(panel.model_box.findText("stt-2.6b-en"))
    panel.batch_box.setValue(16)
    panel.modal_button.click()
    wait_until(lambda: not panel.running, timeout=60)
    assert "Created web function" in panel.log_view.toPlainText()  # modal's own progress
    assert calls.read_text().splitlines() == [
        "modal deploy -m server.deploy.modal_cloud.app | gpu=A10G batch=16 "
        "model=kyutai/stt-2.6b-en app=kyutai-dictate"
    ]
    assert panel.status_label.text().startswith("Deployed: wss://me--kyutai-dictate.modal.run")
    assert settings_store.load(config).backend == BackendSettings(
        BackendKind.MODAL, modal_workspace="me"
    )
    assert dialog.backend.kind() is BackendKind.MODAL

    panel.status_button.click()  # deploy status
    wait_until(lambda: not panel.running, timeout=60)
    assert "kyutai-dictate  deployed" in panel.log_view.toPlainText()
    panel.stop_button.click()  # deploy stop
    wait_until(lambda: not panel.running, timeout=60)
    assert calls.read_text().splitlines()[-1].startswith("modal app stop kyutai-dictate")
    assert panel.status_label.text() == "Done."


def test_direct_moshi_server_mode_keeps_its_model(qapp: QApplication, keyring_file: Path) -> None:
    backend = BackendSettings(BackendKind.MOSHI, url="ws://gpu:8080/api/asr-streaming")
    dialog, emitted = make_dialog(Settings(backend))
    assert dialog.backend.model_combo.currentText() == "stt-1b-en_fr"
    dialog.backend.model_combo.setCurrentIndex(dialog.backend.model_combo.findText("stt-2.6b-en"))
    dialog.save_button.click()
    assert emitted[0].backend.model == "kyutai/stt-2.6b-en"


class Host:
    """An app as the settings window sees it (app.ui.settings.window.SettingsHost)."""

    def __init__(self, env: dict[str, str], config_path: Path) -> None:
        self.settings = Settings()
        self.secrets = secret_lookup(env, secret_store.load)
        self.env = env
        self.config_path = config_path
        self.settings_dialog: SettingsDialog | None = None
        self.capturing = True  # the device list is not rescanned while dictating
        self.applied: list[Settings] = []
        self.notices: list[str] = []
        self.rules = [Rule("pie torch", "PyTorch")]
        self.engine_note: str | None = None
        self.rules_written: list[list[Rule]] = []

    def apply_settings(self, settings: Settings) -> None:
        self.applied.append(settings)
        self.settings = settings

    def set_rules(self, rules: list[Rule]) -> None:
        if any(rule.spoken == "unwritable" for rule in rules):
            raise PermissionError(13, "Permission denied")
        self.rules_written.append(rules)
        self.rules = rules

    def notify(self, message: str, error: bool) -> None:
        self.notices.append(message)


def test_the_window_gives_the_dialog_its_parts_and_starts_at_login_in_the_hosts_environment(
    qapp: QApplication, keyring_file: Path, tmp_path: Path
) -> None:
    from app.ui.settings.window import show_settings

    host = Host({"XDG_CONFIG_HOME": str(tmp_path / "xdg")}, tmp_path / "config.toml")
    meter = FakeMeter()
    dialog = show_settings(host, False, meter=lambda: meter, autostart_supported=lambda: True)
    assert host.settings_dialog is dialog
    assert show_settings(host, False) is dialog  # one dialog at a time
    dialog.tabs.setCurrentWidget(dialog.microphone)
    wait_until(lambda: meter.is_open)  # the page runs the meter it was given
    dialog.tabs.setCurrentWidget(dialog.overlay)
    dialog.overlay.at_login_check.setChecked(True)
    assert dialog.voice.rules() == host.rules  # the voice page edits the host's rules
    dialog.voice.rules_edit.appendPlainText("kyutai -> Kyutai")
    dialog.save_button.click()
    assert host.applied == [Settings(startup=StartupSettings(at_login=True))]
    assert host.rules_written == [[Rule("pie torch", "PyTorch"), Rule("kyutai", "Kyutai")]]
    entry = (tmp_path / "xdg/autostart/kyutai-dictate.desktop").read_text()
    assert f"--config {tmp_path / 'config.toml'}" in entry
    assert host.notices == []
    wait_until(lambda: host.settings_dialog is None)
    dialog = show_settings(host, False, meter=lambda: meter, autostart_supported=lambda: True)
    dialog.voice.rules_edit.appendPlainText("unwritable -> x")
    dialog.save_button.click()
    assert host.notices == ["your own words were not saved: [Errno 13] Permission denied"]
    wait_until(lambda: host.settings_dialog is None)


def test_history_and_sound_settings_round_trip(qapp: QApplication, keyring_file: Path) -> None:
    original = Settings(
        BackendSettings(BackendKind.PROXY, url="ws://h:8000/v1/stream"),
        history=HistorySettings(audio_days=2.25),
        sounds=SoundSettings(volume=0.333),
    )
    dialog, emitted = make_dialog(original)
    page = dialog.history
    assert page.keep_audio.isChecked()
    assert page.audio_count.value() == 50
    page.audio_count.setValue(10)
    page.audio_megabytes.setValue(100)
    page.text_days.setValue(30)
    page.cues.setChecked(False)
    page.keep_audio.setChecked(False)
    assert not page.audio_count.isEnabled()  # audio off: its limits do not apply

    dialog.save_button.click()

    history = HistorySettings(
        keep_audio=False, audio_count=10, audio_days=2.25, audio_megabytes=100, text_days=30
    )
    assert emitted == [replace(original, history=history, sounds=SoundSettings(False, 0.333))]


@pytest.mark.parametrize(
    ("note", "shown"),
    [
        ("local engine on a GPU: real-time factor 0.12", "real-time factor 0.12"),
        (None, "No local engine is running in this session"),
    ],
)
def test_this_computer_shows_what_the_local_engine_found(
    qapp: QApplication, keyring_file: Path, note: str | None, shown: str
) -> None:
    """Issue 15: Settings shows whether a GPU was found and how fast the engine runs."""
    dialog, _ = make_dialog(Settings(BackendSettings(BackendKind.ENGINE)), engine_note=note)
    label = dialog.backend.engine_label
    dialog.show()
    assert shown in label.text()
    assert label.isVisible()
    combo = dialog.backend.kind_combo
    combo.setCurrentIndex(combo.findText(BACKEND_LABELS[BackendKind.PROXY]))
    assert not label.isVisible()  # only for "This computer"
    dialog.close()
