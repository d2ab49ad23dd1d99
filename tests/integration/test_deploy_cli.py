"""`kyutai-dictate deploy` and `bench --compare-gpus` with stand-ins of modal, pct and ssh."""

from __future__ import annotations

import asyncio
import json
import os
import shlex
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.core.settings import BackendKind, BackendSettings, Settings
from app.desktop import settings_store
from tests.conftest import DoubleFactory, ProxyFactory
from tests.support.modal_cli import parse
from tests.support.pretend_pve import pve_host_env
from tests.support.speech import SENTENCES, speech, write_wav

ROOT = Path(__file__).resolve().parents[2]
MODAL_STAND_IN = ROOT / "tests/support/modal_stand_in"


class Sandbox:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.log = root / "calls.log"
        (root / "home").mkdir()

    @property
    def keyring(self) -> Path:
        return self.root / "keyring.json"

    def settings(self) -> Settings:
        return settings_store.load(self.root / "config" / "kyutai-dictate" / "config.toml")

    @property
    def calls(self) -> list[str]:
        return self.log.read_text().splitlines() if self.log.exists() else []

    def env(self, token: bool = True, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("MODAL_", "KYUTAI_"))}
        env |= pve_host_env(self.root, uvm_major=511)
        env |= {
            "PATH": f"{MODAL_STAND_IN}{os.pathsep}{env['PATH']}",
            "HOME": str(self.root / "home"),
            "XDG_CONFIG_HOME": str(self.root / "config"),
            "PYTHON_KEYRING_BACKEND": "tests.support.file_keyring.FileKeyring",
            "STANDIN_PYTHON": sys.executable,
            "KYUTAI_TEST_KEYRING_FILE": str(self.keyring),
        }
        if token:
            env |= {"MODAL_TOKEN_ID": "ak-test", "MODAL_TOKEN_SECRET": "as-test"}
        return env | extra

    def run(self, *args: str, **env: object) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "app", *args],
            cwd=ROOT,
            env=self.env(**env),  # type: ignore[arg-type]
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,  # as from a script: modal cannot ask for confirmation
            timeout=120,
            check=False,
        )


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[Sandbox]:
    box = Sandbox(tmp_path)
    yield box
    for call in box.calls:  # whatever modal command ran, the real client's parser accepts it
        if call.startswith("modal "):
            parse(shlex.split(call.split(" | ")[0])[1:])


def test_deploy_modal_needs_a_token(sandbox: Sandbox) -> None:
    done = sandbox.run("deploy", "modal", token=False)
    assert done.returncode == 1
    assert "modal token new" in done.stderr
    assert sandbox.calls == []  # nothing ran


def test_deploy_modal_passes_the_settings_and_reports_the_endpoint(sandbox: Sandbox) -> None:
    done = sandbox.run(
        "deploy", "modal", "--gpu", "a10g", "--batch-size", "16", "--model", "kyutai/stt-2.6b-en"
    )
    assert done.returncode == 0, done.stderr
    assert sandbox.calls == [
        "modal deploy -m server.deploy.modal_cloud.app | gpu=A10G batch=16 "
        "model=kyutai/stt-2.6b-en app=kyutai-dictate"
    ]
    assert "endpoint: wss://me--kyutai-dictate.modal.run/v1/stream" in done.stdout
    assert "Created web function" in done.stderr  # modal's progress is streamed
    assert sandbox.settings().backend == BackendSettings(
        BackendKind.MODAL, modal_workspace="me", modal_label="kyutai-dictate"
    )


HOW_TO_CHECK = (
    'curl -fsS -H "Modal-Key: $MODAL_KEY" -H "Modal-Secret: $MODAL_SECRET" '
    "https://me--kyutai-dictate.modal.run/healthz"
)


def test_deploy_modal_says_how_to_check_the_endpoint_without_a_proxy_token(
    sandbox: Sandbox,
) -> None:
    done = sandbox.run("deploy", "modal")
    assert done.returncode == 0, done.stderr
    assert HOW_TO_CHECK in done.stderr


async def test_deploy_modal_checks_that_the_endpoint_answers(
    sandbox: Sandbox, moshi_double: DoubleFactory, proxy: ProxyFactory
) -> None:
    async with moshi_double() as double, proxy(double.url) as server:
        web = f"http://127.0.0.1:{server.port}"
        done = await asyncio.to_thread(
            sandbox.run, "deploy", "modal",
            STANDIN_WEB_URL=web, MODAL_KEY="wk-1", MODAL_SECRET="ws-1",
        )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert f"the endpoint answers: {web}/healthz" in done.stderr


async def test_deploy_modal_reports_an_endpoint_that_does_not_answer(
    sandbox: Sandbox, proxy: ProxyFactory, unused_tcp_port: int
) -> None:
    backend = f"ws://127.0.0.1:{unused_tcp_port}/api/asr-streaming"  # nothing listens there
    async with proxy(backend) as server:
        web = f"http://127.0.0.1:{server.port}"
        done = await asyncio.to_thread(
            sandbox.run, "deploy", "modal", "--health-timeout", "2",
            STANDIN_WEB_URL=web, MODAL_KEY="wk-1", MODAL_SECRET="ws-1",
        )  # fmt: skip
    assert done.returncode == 1
    assert "HTTP 503" in done.stderr
    assert f'-H "Modal-Secret: $MODAL_SECRET" {web}/healthz' in done.stderr
    assert sandbox.settings().backend.kind is BackendKind.PROXY  # the endpoint is kept


def test_deploy_modal_refuses_bad_settings_before_running_anything(sandbox: Sandbox) -> None:
    done = sandbox.run("deploy", "modal", "--gpu", "RTX5090")
    assert done.returncode == 2
    assert "KYUTAI_GPU" in done.stderr
    assert sandbox.calls == []


def test_deploy_status_and_stop(sandbox: Sandbox) -> None:
    assert "kyutai-dictate" in sandbox.run("deploy", "status").stdout
    stop = sandbox.run("deploy", "stop")
    assert stop.returncode == 0, stop.stderr  # modal would ask, and abort without a terminal
    assert sandbox.calls[-1].startswith("modal app stop kyutai-dictate --yes |")


def test_deploy_proxmox_unreachable_host(sandbox: Sandbox) -> None:
    done = sandbox.run("deploy", "proxmox", "--host", "root@unreachable")
    assert done.returncode == 1
    assert "cannot reach root@unreachable" in done.stderr


def test_deploy_proxmox_dry_run_and_for_real(sandbox: Sandbox) -> None:
    dry = sandbox.run("deploy", "proxmox", "--ctid", "301", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "would run: pct create 301" in dry.stderr
    assert not (sandbox.root / "lxc" / "301.conf").exists()
    real = sandbox.run("deploy", "proxmox", "--ctid", "301", "--batch-size", "4")
    assert real.returncode == 0, real.stderr
    assert "endpoint: ws://10.0.0.50:8000/v1/stream" in real.stdout
    assert "c 511:* rwm" in (sandbox.root / "lxc" / "301.conf").read_text()
    assert sandbox.settings().backend == BackendSettings(
        BackendKind.PROXY, url="ws://10.0.0.50:8000/v1/stream"
    )
    assert json.loads(sandbox.keyring.read_text()) == {
        "kyutai-dictate/proxy-token": "container-token"
    }
    assert (
        "container-token"
        not in (sandbox.root / "config").joinpath("kyutai-dictate", "config.toml").read_text()
    )
    assert "container-token" not in real.stdout + real.stderr  # it is in the keyring
    assert "saved the proxy token in the keyring" in real.stderr


def test_deploy_proxmox_refuses_to_keep_the_token_in_plain_text(sandbox: Sandbox) -> None:
    done = sandbox.run(
        "deploy", "proxmox", PYTHON_KEYRING_BACKEND="keyrings.alt.file.PlaintextKeyring"
    )
    assert done.returncode == 0, done.stderr  # the backend is deployed all the same
    assert "the token was not saved: no secure keyring" in done.stderr
    # Not stored, so shown in full once, with where clients take it from.
    assert done.stderr.count("container-token") == 1
    assert "KYUTAI_DICTATE_TOKEN" in done.stderr
    assert sandbox.settings().backend.url == "ws://10.0.0.50:8000/v1/stream"
    assert not list((sandbox.root / "home").rglob("keyring_pass.cfg"))


def test_deploy_proxmox_failing_late_does_not_show_the_token(sandbox: Sandbox) -> None:
    done = sandbox.run("deploy", "proxmox", STANDIN_SMOKE_FAILS="1")
    assert done.returncode == 1
    assert "no words came back" in done.stderr
    assert "container-token" not in done.stdout + done.stderr


async def test_bench_compare_gpus_deploys_measures_and_stops_each(
    sandbox: Sandbox,
    moshi_double: DoubleFactory,
    proxy: ProxyFactory,
    speech_dir: Path,
    tmp_path: Path,
) -> None:
    audio = speech([SENTENCES[0]], speech_dir, gap_seconds=0.5)
    wav = tmp_path / "speech.wav"
    write_wav(wav, audio)
    async with moshi_double() as double, proxy(double.url) as server:
        web_url = f"http://127.0.0.1:{server.port}"
        args = ["bench", "--compare-gpus", "L4,A10G", "--file", str(wav), "-p", "2", "--runs", "1"]
        done = await asyncio.to_thread(
            sandbox.run, *args, "--rtf", "4",
            STANDIN_WEB_URL=web_url, MODAL_KEY="wk-1", MODAL_SECRET="ws-1",
        )  # fmt: skip
    assert done.returncode == 0, done.stderr
    rows = {line.split()[0]: line for line in done.stdout.splitlines()[1:]}
    assert set(rows) == {"L4", "A10G"}
    assert all(row.endswith("2/2") for row in rows.values())
    calls = sandbox.calls
    assert [c.split(" | ")[0] for c in calls] == [
        "modal deploy -m server.deploy.modal_cloud.app",
        "modal app stop kyutai-dictate-l4 --yes",
        "modal deploy -m server.deploy.modal_cloud.app",
        "modal app stop kyutai-dictate-a10g --yes",
    ]
    assert "app=kyutai-dictate-l4" in calls[0]


def test_bench_compare_gpus_checks_every_gpu_name_first(sandbox: Sandbox, tmp_path: Path) -> None:
    wav = tmp_path / "x.wav"
    done = sandbox.run(
        "bench", "--compare-gpus", "L4,RTX9000", "--file", str(wav),
        MODAL_KEY="wk-1", MODAL_SECRET="ws-1",
    )  # fmt: skip
    assert done.returncode == 2
    assert "RTX9000" in done.stderr
    assert sandbox.calls == []
