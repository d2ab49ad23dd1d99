"""The settings model, its file, and secrets in the keyring (a file-backed test keyring)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import keyring
import pytest
from keyrings.alt.file import PlaintextKeyring

from app.core.credentials import Secret, SecretReadError
from app.core.settings import (
    BackendKind,
    BackendSettings,
    DictationSettings,
    HotkeyMode,
    OverlaySettings,
    ServerProtocol,
    Settings,
    SettingsError,
    StartupSettings,
    TypingMethod,
)
from app.desktop import secret_store, settings_store
from app.desktop.secret_store import SecretStoreError
from tests.support.file_keyring import FileKeyring


def test_round_trip_through_the_file(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "config.toml"
    settings = Settings(BackendSettings(BackendKind.MODAL, modal_workspace="me", modal_label="x"))
    settings_store.save(settings, path)
    assert settings_store.load(path) == settings
    assert settings_store.load(path).backend.stream_url() == "wss://me--x.modal.run/v1/stream"
    assert "token" not in path.read_text().lower()


def test_the_servers_protocol_and_a_full_modal_url_are_kept(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    url = "wss://me--kyutai-stt-rust-kyutaisttrustservice-serve.modal.run/v1/stream"
    backend = BackendSettings(BackendKind.MODAL, url=url, protocol=ServerProtocol.ORIGINAL)
    settings_store.save(Settings(backend), path)
    loaded = settings_store.load(path).backend
    assert loaded == backend
    assert loaded.configured
    assert loaded.stream_url() == url
    assert settings_store.load(tmp_path / "none.toml").backend.protocol is ServerProtocol.AUTO


def test_missing_file_gives_defaults_that_are_not_configured(tmp_path: Path) -> None:
    settings = settings_store.load(tmp_path / "none.toml")
    assert settings == Settings()
    assert not settings.backend.configured


def test_default_path_follows_xdg(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    assert settings_store.default_path() == tmp_path / "kyutai-dictate" / "config.toml"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("backend = 3", "must be a table"),
        ('[backend]\nkind = "ftp"', "is not one of"),
        ("[backend]\nurl = 5", "must be a string"),
        ("[backend\n", "not valid TOML"),
        ('[backend]\nprotocol = "v0"', "backend.protocol 'v0' is not one of auto, current"),
        ("[voice]\npause_seconds = 0", "voice.pause_seconds must be between 0.2 and 3"),
        ('[voice]\nnewline = "ctrl+j"', "voice.newline 'ctrl.j' is not one of return"),
        ('[voice]\ncommands = "yes"', "voice.commands must be true or false"),
    ],
)
def test_bad_files_give_clear_errors(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "config.toml"
    path.write_text(text)
    with pytest.raises(SettingsError, match=message):
        settings_store.load(path)


@pytest.fixture
def test_keyring(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    store = tmp_path / "keyring.json"
    monkeypatch.setenv("KYUTAI_TEST_KEYRING_FILE", str(store))
    previous = keyring.get_keyring()
    keyring.set_keyring(FileKeyring())
    yield store  # type: ignore[misc]
    keyring.set_keyring(previous)


def test_secrets_go_to_the_keyring(test_keyring: Path) -> None:
    secret_store.store(Secret.PROXY_TOKEN, "t0ken")
    assert secret_store.load(Secret.PROXY_TOKEN) == "t0ken"
    assert secret_store.load(Secret.MODAL_KEY) is None
    assert "kyutai-dictate/proxy-token" in test_keyring.read_text()


@pytest.fixture
def plain_keyring(tmp_path: Path) -> Iterator[Path]:
    previous = keyring.get_keyring()
    plain = PlaintextKeyring()
    plain.file_path = str(tmp_path / "plain.cfg")  # type: ignore[misc]
    keyring.set_keyring(plain)
    yield tmp_path / "plain.cfg"
    keyring.set_keyring(previous)


def test_plain_text_keyrings_are_refused_for_storing(plain_keyring: Path) -> None:
    with pytest.raises(
        SecretStoreError, match=r"no secure keyring .* never stored in plain text"
    ) as refused:
        secret_store.store(Secret.PROXY_TOKEN, "t0ken")
    assert "KYUTAI_DICTATE_TOKEN" in str(refused.value)  # the way that works instead
    assert not plain_keyring.exists()


def test_reading_an_unsafe_keyring_fails_with_a_message_of_its_own(plain_keyring: Path) -> None:
    with pytest.raises(SecretReadError, match="no secure keyring is available") as failed:
        secret_store.load(Secret.PROXY_TOKEN)
    assert "stored" not in str(failed.value)
    secret_store.delete(Secret.PROXY_TOKEN)  # nothing of ours can be there: no error


def test_every_section_round_trips(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    settings = Settings(
        BackendSettings(BackendKind.MOSHI, url="ws://gpu:8080/api/asr-streaming"),
        DictationSettings(
            hotkey="<ctrl>+<alt>+d",
            mode=HotkeyMode.TOGGLE,
            microphone="USB Mic",
            typing=TypingMethod.XDOTOOL,
            leading_space=True,
            focus_guard=False,
        ),
        OverlaySettings(show=False, latency=True, opacity=0.5, geometry=(10, 20, 600, 90)),
        StartupSettings(at_login=True),
    )
    settings_store.save(settings, path)
    assert settings_store.load(path) == settings
    assert 'mode = "toggle"' in path.read_text()


def test_missing_keys_take_defaults_and_unknown_keys_are_ignored(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text('[dictation]\nhotkey = "<f8>"\nfuture = 1\n[overlay]\nopacity = 1\n')
    settings = settings_store.load(path)
    assert settings.dictation == DictationSettings(hotkey="<f8>")
    assert settings.overlay.opacity == 1.0


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[dictation]\nmode = "hold-ish"', "dictation.mode 'hold-ish' is not one of hold, toggle"),
        ('[dictation]\ntyping = "telepathy"', "dictation.typing 'telepathy' is not one of"),
        ('[dictation]\nfocus_guard = "yes"', "dictation.focus_guard must be true or false"),
        ("[dictation]\nhotkey = true", "dictation.hotkey must be a string"),
        ("[overlay]\nopacity = true", "overlay.opacity must be a number"),
        ('[overlay]\ngeometry = [1, "2"]', "overlay.geometry must be a list of whole numbers"),
        ("[overlay]\ngeometry = 4", "overlay.geometry must be a list of whole numbers"),
        ("startup = []", r"\[startup\] must be a table"),
    ],
)
def test_bad_values_in_app_sections_name_the_key(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "config.toml"
    path.write_text(text)
    with pytest.raises(SettingsError, match=message):
        settings_store.load(path)


@pytest.mark.parametrize(
    ("name", "unsafe"),
    [
        ("keyrings.alt.file.PlaintextKeyring", True),
        ("keyrings.alt.file.EncryptedKeyring", True),  # asks for a password on a terminal
        ("keyring.backends.null.Keyring", True),
        ("keyring.backends.fail.Keyring", True),
        ("keyring.backends.SecretService.Keyring", False),
        ("keyring.backends.kwallet.DBusKeyring", False),
        ("keyring.backends.macOS.Keyring", False),
        ("keyring.backends.Windows.WinVaultKeyring", False),
    ],
)
def test_which_keyrings_are_refused(name: str, unsafe: bool) -> None:
    assert secret_store.is_unsafe(name) is unsafe
