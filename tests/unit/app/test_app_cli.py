"""The command line end to end, in-process, against a small /v1/stream server in a thread."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import soundfile
from websockets.http11 import Request, Response
from websockets.sync.server import ServerConnection, serve

from app.cli.deploy_command import proxmox_script_args
from app.cli.main import build_parser, main
from app.core.commands import RemoteCommand
from server.protocol.audio import FRAME_SAMPLES, SAMPLE_RATE
from server.protocol.errors import ErrorCode
from server.protocol.stream import (
    PROTOCOL_HEADER,
    PROTOCOL_VERSION,
    End,
    EndOfAudio,
    Error,
    Ready,
    ServerMessage,
    Token,
    VadEnd,
    decode_client,
    encode_server,
)
from tests.support.pulse import heard_in_this_process, virtual_microphone

TOKEN = "s3cret-token"


def send(ws: ServerConnection, *messages: ServerMessage) -> None:
    for message in messages:
        ws.send(encode_server(message))


def words_server(ws: ServerConnection) -> None:
    """Two words after the second audio message, one more word after ``end``."""
    send(ws, Ready())
    for audio_messages, data in enumerate(ws):
        if isinstance(decode_client(data), EndOfAudio):
            send(ws, Token(" again"), VadEnd(), End())
            return
        if audio_messages == 1:
            send(ws, Token(" Hello"), Token(" world."), VadEnd())


def busy_server(ws: ServerConnection) -> None:
    send(ws, Error("no free backend slot", ErrorCode.BUSY))
    ws.close(ErrorCode.BUSY.close_code)


def require_token(connection: ServerConnection, request: Request) -> Response | None:
    if request.headers.get("Authorization") != f"Bearer {TOKEN}":
        return connection.respond(401, "missing or wrong token\n")
    return None


def announce(connection: object, request: object, response: Response) -> None:
    """Name this project's protocol in the 101 response, as its proxy does."""
    if response.status_code == 101:
        response.headers[PROTOCOL_HEADER] = PROTOCOL_VERSION


def run_server(handler: object, **kwargs: object) -> Iterator[str]:
    kwargs.setdefault("process_response", announce)
    with serve(handler, "127.0.0.1", 0, **kwargs) as server:  # type: ignore[arg-type]
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        yield f"ws://127.0.0.1:{server.socket.getsockname()[1]}/v1/stream"
        server.shutdown()
        thread.join(5)


@pytest.fixture
def url() -> Iterator[str]:
    yield from run_server(words_server, process_request=require_token)


@pytest.fixture
def busy_url() -> Iterator[str]:
    yield from run_server(busy_server)


@pytest.fixture
def wav(tmp_path: Path) -> Path:
    path = tmp_path / "speech.wav"
    noise = np.random.default_rng(1).uniform(-0.1, 0.1, 5 * FRAME_SAMPLES)
    soundfile.write(path, noise, SAMPLE_RATE, subtype="PCM_16")
    return path


@pytest.fixture(autouse=True)
def no_token_in_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("KYUTAI_DICTATE_TOKEN", "LOCAL_WS_URL", "MODAL_KEY", "MODAL_SECRET"):
        monkeypatch.delenv(name, raising=False)


def test_transcribe_file_prints_lines(
    url: str, wav: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["transcribe", "--url", url, "--token", TOKEN, "--file", str(wav), "--rtf", "0"])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert out == "Hello world.\nagain\n"


def test_transcribe_token_from_the_environment(
    url: str, wav: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KYUTAI_DICTATE_TOKEN", TOKEN)
    assert main(["transcribe", "--url", url, "--file", str(wav), "--rtf", "inf"]) == 0
    assert capsys.readouterr().out.startswith("Hello world.")


def test_transcribe_paced_at_real_time_multiple(
    url: str, wav: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["transcribe", "--url", url, "--token", TOKEN, "--file", str(wav), "--rtf", "20"]
    assert main(args) == 0
    assert capsys.readouterr().out == "Hello world.\nagain\n"


def test_transcribe_unauthorized(url: str, wav: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["transcribe", "--url", url, "--token", "wrong-one", "--file", str(wav)])
    out, err = capsys.readouterr()
    assert code == 1
    assert "unauthorized" in err
    assert "wrong-one" not in err
    assert out == ""


def test_transcribe_server_error(
    busy_url: str, wav: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["transcribe", "--url", busy_url, "--file", str(wav), "--rtf", "0"]) == 1
    assert "busy: no free backend slot" in capsys.readouterr().err


def test_transcribe_connection_refused(wav: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as probe:  # a port that was free a moment ago: nothing listens there
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    args = ["transcribe", "--url", f"ws://127.0.0.1:{port}/v1/stream", "--file", str(wav)]
    assert main(args) == 1
    assert "refused" in capsys.readouterr().err


def test_transcribe_missing_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["transcribe", "--file", str(tmp_path / "nope.wav")]) == 1
    assert "no such file" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["transcribe", "--rtf", "2"], "--rtf applies to --file"),
        (["transcribe", "--file", "a.wav", "--device", "1"], "--device applies"),
        (["transcribe", "--url", "http://host/v1/stream", "--file", "a.wav"], "ws://"),
        (["transcribe", "--service", "modal", "--file", "a.wav"], "MODAL_"),
        (["transcribe", "--rtf", "-1"], "rtf"),
        (["bench", "--url", "ws://h"], "--file"),
        (["bench", "--file", "a.wav", "-p", "0"], "at least 1"),
        (["frobnicate"], "invalid choice"),
    ],
)
def test_usage_errors_exit_2(
    args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(args) == 2
    assert message in capsys.readouterr().err


def test_app_options_are_checked_before_anything_starts(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["--url", "http://gpu:8000"]) == 2
    assert "must start with ws:// or wss://" in capsys.readouterr().err
    assert main(["--mode", "sometimes"]) == 2
    assert "invalid choice: 'sometimes'" in capsys.readouterr().err


def test_a_hotkey_that_would_type_is_refused(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    assert main(["--config", str(tmp_path / "none.toml"), "--hotkey", "a"]) == 2
    assert "a single character key would type it" in capsys.readouterr().err


def test_help_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    assert "bench" in capsys.readouterr().out


def test_log_level_before_or_after_the_command() -> None:
    parser = build_parser()
    assert parser.parse_args(["devices"]).log_level is None  # the command's own default
    assert parser.parse_args(["--log-level", "DEBUG", "devices"]).log_level == "debug"
    assert parser.parse_args(["devices", "--log-level", "info"]).log_level == "info"
    assert parser.parse_args(["--log-level", "error", "serve"]).log_level == "error"


def test_bench_json(url: str, wav: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["bench", "--url", url, "--token", TOKEN, "--file", str(wav), "-p", "3", "--runs", "2"]
    code = main([*args, "--rtf", "20", "--json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    report = json.loads(out)
    assert report["counts"] == {"total": 6, "ok": 6, "failed": 0, "ok_without_words": 0}
    assert len(report["streams"]) == 6
    assert {(s["run"], s["stream"]) for s in report["streams"]} == {
        (run, stream) for run in (1, 2) for stream in (1, 2, 3)
    }
    assert all(s["words"] == 3 for s in report["streams"])
    first = report["latency_ms"]["first_token"]
    assert first["n"] == 6
    assert 0 <= first["min"] <= first["median"] <= first["p95"] <= first["max"]
    assert report["config"]["audio_seconds"] == pytest.approx(0.4)
    assert TOKEN not in out


def test_bench_table_and_output_file(
    url: str, wav: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["bench", "--url", url, "--token", TOKEN, "--file", str(wav), "-p", "2"]
    output = tmp_path / "report.json"
    assert main([*args, "--runs", "1", "--rtf", "0", "--output", str(output)]) == 0
    out = capsys.readouterr().out
    assert "streams: 2, ok: 2, failed: 0" in out
    assert "first token" in out
    assert TOKEN not in out
    assert json.loads(output.read_text())["counts"]["ok"] == 2


def test_bench_counts_failed_streams(
    busy_url: str, wav: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["bench", "--url", busy_url, "--file", str(wav), "-p", "2", "--runs", "1"]
    assert main(args) == 1
    out = capsys.readouterr().out
    assert "failed: 2" in out
    assert "run 1 stream 2: busy: no free backend slot" in out


def test_devices_lists_the_sound_servers_microphone(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with virtual_microphone(tmp_path / "pulse") as mic, heard_in_this_process(mic):
        code = main(["devices"])
    out, err = capsys.readouterr()
    assert code == 0, err
    header, *rows = out.splitlines()
    assert header.split() == ["index", "channels", "rate", "name"]
    # ALSA's pulse plugin shows the server as "pulse" and "default"; "*" marks the default.
    assert {row.lstrip("* ").split(maxsplit=3)[3] for row in rows} >= {
        "pulse (ALSA)",
        "default (ALSA)",
    }
    assert [row.split()[-2] for row in rows if row.startswith("*")] == ["default"]


def test_devices_does_not_load_the_network_stack() -> None:
    code = (
        "import sys; from app.cli.main import main; main(['devices']); "
        "print(sorted(m for m in ('websockets', 'server.proxy') if m in sys.modules))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False, timeout=60
    )
    assert done.stdout.strip() == "[]", done.stderr


def test_toggle_does_not_load_qt(tmp_path: Path) -> None:
    """A desktop shortcut's ``kyutai-dictate toggle`` talks to the app with the stdlib only."""
    code = (
        "import sys; from app.cli.main import main; status = main(['toggle']); "
        "print(status, sorted(m for m in ('PySide6', 'websockets') if m in sys.modules))"
    )
    env = {**os.environ, "XDG_RUNTIME_DIR": str(tmp_path)}  # no app listens there
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=False,
        timeout=60,
    )  # fmt: skip
    assert done.stdout.strip() == "1 []", done.stderr
    assert "kyutai-dictate is not running" in done.stderr


def test_every_remote_command_is_a_subcommand_with_its_help(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["--help"]) == 0
    listing = " ".join(capsys.readouterr().out.split())  # argparse wraps the help lines
    for command in RemoteCommand:
        assert f"{command} {command.help} (for desktop shortcuts)" in listing


ROOT = Path(__file__).resolve().parents[3]

# What a machine without PortAudio looks like to sounddevice: it asks ctypes.util.find_library
# for "portaudio" and raises OSError("PortAudio library not found") when that finds nothing
# (sounddevice 0.5, __init__.py, the library search at import).
NO_PORTAUDIO = """
import ctypes.util
_find = ctypes.util.find_library
ctypes.util.find_library = lambda name: None if "portaudio" in name else _find(name)
"""


def run_cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "app", *args],
        cwd=ROOT, env=env, capture_output=True, text=True, check=False, timeout=60,
    )  # fmt: skip


def test_without_a_display_the_app_says_why_in_one_line(tmp_path: Path) -> None:
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "PYTHONPATH": str(ROOT)}
    done = run_cli(env=env)
    assert done.returncode == 2
    assert done.stderr.splitlines() == [
        "kyutai-dictate: error: no graphical session (neither DISPLAY nor WAYLAND_DISPLAY is "
        "set): start the app from your desktop; without a screen, 'kyutai-dictate transcribe' "
        "prints what you say"
    ]


def test_without_portaudio_the_package_to_install_is_named(tmp_path: Path) -> None:
    (tmp_path / "sitecustomize.py").write_text(NO_PORTAUDIO)
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "PYTHONPATH": f"{tmp_path}:{ROOT}"}
    for command in (["devices"], ["transcribe", "--url", "ws://127.0.0.1:9/v1/stream"]):
        done = run_cli(*command, env=env)
        assert done.returncode == 1
        assert done.stderr.splitlines() == [
            f"kyutai-dictate {command[0]}: error: PortAudio is not installed (PortAudio library "
            "not found): install it with your package manager (Debian, Ubuntu: libportaudio2; "
            "Fedora: portaudio; Arch: portaudio)"
        ]


NO_TORCH = """
import sys
class _Hide:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("torch", "moshi"):
            raise ModuleNotFoundError(name)
sys.meta_path.insert(0, _Hide())
"""


def test_the_engine_without_torch_says_what_to_install(tmp_path: Path) -> None:
    (tmp_path / "sitecustomize.py").write_text(NO_TORCH)
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "PYTHONPATH": f"{tmp_path}:{ROOT}"}
    done = run_cli("engine", "--port", "0", env=env)
    assert done.returncode == 2
    assert done.stderr.splitlines() == [
        "kyutai-dictate engine: error: the engine needs torch and moshi: see the README's "
        "'A local engine'"
    ]


def test_serve_offers_only_what_exists(capsys: pytest.CaptureFixture[str]) -> None:
    """The proxy fronts a moshi-server; the local engine is a command of its own."""
    assert main(["serve", "--help"]) == 0
    assert "engine" not in capsys.readouterr().out.lower()
    assert main(["engine", "--help"]) == 0
    assert "--checkpoint" in capsys.readouterr().out


def test_local_and_url_both_choose_the_backend_so_one_is_refused(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["--local", "--url", "ws://127.0.0.1:9/v1/stream"]) == 2
    assert "--local and --url both choose the backend" in capsys.readouterr().err
    assert main(["--checkpoint", "/nowhere"]) == 2
    assert "--checkpoint goes with --local" in capsys.readouterr().err


def test_deploy_proxmox_passes_each_option_of_the_host_script_on() -> None:
    """Every value option that server/deploy/proxmox/pve-host.sh parses (but --host, which
    the command takes itself) is accepted and handed to the script unchanged."""
    script = (ROOT / "server/deploy/proxmox/pve-host.sh").read_text()
    options = re.findall(r"^\s+(--[a-z-]+)\) \w+=\$2; shift ;;$", script, re.MULTILINE)
    assert {"--ctid", "--port"} <= set(options)  # the pattern finds the list
    options.remove("--host")
    argv = [item for i, option in enumerate(options) for item in (option, f"v{i}")]
    args = build_parser(only="deploy").parse_args(["deploy", "proxmox", *argv])
    assert proxmox_script_args(args) == argv
    dry = build_parser(only="deploy").parse_args(["deploy", "proxmox", "--dry-run"])
    assert proxmox_script_args(dry) == ["--dry-run"]
