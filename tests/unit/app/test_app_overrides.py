"""Command-line overrides apply to one run and never reach the settings file."""

from __future__ import annotations

from app.core.settings import BackendKind, BackendSettings, DictationSettings, HotkeyMode, Settings
from app.ui.main import keep_file_values, with_overrides

FILE = Settings(
    BackendSettings(BackendKind.MODAL, modal_workspace="me"),
    DictationSettings(hotkey="<f9>", mode=HotkeyMode.HOLD),
)


def test_overrides_replace_the_backend_hotkey_and_mode_for_this_run() -> None:
    run = with_overrides(FILE, "ws://gpu.lan:8000/v1/stream", "<f8>", "toggle")
    assert run.backend == BackendSettings(BackendKind.PROXY, url="ws://gpu.lan:8000/v1/stream")
    assert (run.dictation.hotkey, run.dictation.mode) == ("<f8>", HotkeyMode.TOGGLE)


def test_a_moshi_server_url_means_the_direct_mode() -> None:
    run = with_overrides(FILE, "ws://gpu:8080/api/asr-streaming", None, None)
    assert run.backend.kind is BackendKind.MOSHI
    assert run.dictation == FILE.dictation


def test_saving_keeps_the_files_own_values_where_an_override_is_in_effect() -> None:
    run = with_overrides(FILE, "ws://gpu.lan:8000/v1/stream", "<f8>", None)
    changed = Settings(run.backend, DictationSettings(hotkey="<f8>", leading_space=True))
    saved = keep_file_values(changed, FILE, "ws://gpu.lan:8000/v1/stream", "<f8>", None)
    assert saved.backend == FILE.backend
    assert saved.dictation.hotkey == "<f9>"
    assert saved.dictation.leading_space  # what the user changed is kept
