"""The Proxmox scripts run for real against stand-ins of pct, ssh and nvidia-smi."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.pretend_pve import STAND_INS, pve_host_env

ROOT = Path(__file__).resolve().parents[3]
HOST_SCRIPT = ROOT / "server/deploy/proxmox/pve-host.sh"
SCRIPTS = [
    HOST_SCRIPT,
    ROOT / "server/deploy/proxmox/container-install.sh",
    *sorted(STAND_INS.iterdir()),
]
MUTATING = ("pct create", "pct start", "pct reboot", "pct push", "container-install.sh")


@dataclass
class Host:
    """A pretend Proxmox host: stand-ins first on PATH, state and configs in a temp dir."""

    root: Path
    uvm_major: int | None = 508  # None: the nvidia-uvm module is not loaded

    @property
    def calls(self) -> list[str]:
        log = self.root / "calls.log"
        return log.read_text().splitlines() if log.exists() else []

    @property
    def conf(self) -> Path:
        return self.root / "lxc" / "240.conf"

    def run(self, *args: str, path_extra: Path | None = None) -> subprocess.CompletedProcess[str]:
        env = pve_host_env(self.root, self.uvm_major, path_extra or STAND_INS)
        env["HOME"] = str(self.root)
        return subprocess.run(
            ["bash", str(HOST_SCRIPT), *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )


@pytest.fixture
def host(tmp_path: Path) -> Host:
    return Host(tmp_path)


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_shellcheck_clean(script: Path) -> None:
    if shutil.which("shellcheck") is None:
        pytest.fail("shellcheck is missing: run the README's test command (tests/run)")
    done = subprocess.run(["shellcheck", str(script)], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout


def test_first_run_creates_passes_gpu_installs_and_smoke_tests(host: Host) -> None:
    done = host.run("--ctid", "240", "--model", "stt-2.6b-en", "--batch-size", "4")
    assert done.returncode == 0, done.stderr
    calls = "\n".join(host.calls)
    assert "pct create 240 local:vztmpl/debian-12-standard" in calls
    assert "--unprivileged 1 --features nesting=1" in calls
    assert "pct start 240" in calls
    assert "pct push 240" in calls
    install = next(c for c in host.calls if "container-install.sh" in c)
    assert "--driver-version 550.127.05 --model stt-2.6b-en --batch-size 4" in install
    assert "pct exec 240 -- /opt/kyutai-dictate/bin/smoke-test" in calls
    conf = host.conf.read_text().splitlines()
    assert "lxc.cgroup2.devices.allow: c 195:* rwm" in conf
    assert "lxc.cgroup2.devices.allow: c 508:* rwm" in conf  # read from /proc/devices
    assert "lxc.mount.entry: /dev/nvidia-uvm dev/nvidia-uvm none bind,optional,create=file" in conf
    assert "endpoint: ws://10.0.0.50:8000/v1/stream" in done.stdout


def test_second_run_changes_nothing(host: Host) -> None:
    assert host.run().returncode == 0
    conf_before, calls_before = host.conf.read_text(), len(host.calls)
    done = host.run()
    assert done.returncode == 0, done.stderr
    second = host.calls[calls_before:]
    assert not [c for c in second if c.startswith(MUTATING) or "container-install.sh" in c]
    assert host.conf.read_text() == conf_before
    assert "up to date" in done.stderr


def test_other_options_reinstall(host: Host) -> None:
    assert host.run().returncode == 0
    calls_before = len(host.calls)
    assert host.run("--batch-size", "16").returncode == 0
    assert any("container-install.sh" in c for c in host.calls[calls_before:])


def test_uvm_major_is_read_from_the_host(host: Host) -> None:
    host.uvm_major = 237
    assert host.run().returncode == 0
    conf = host.conf.read_text()
    assert "c 237:* rwm" in conf
    assert "c 508:* rwm" not in conf


def test_dry_run_prints_every_change_and_makes_none(host: Host) -> None:
    done = host.run("--dry-run", "--ip", "192.168.7.50/24", "--gateway", "192.168.7.1")
    assert done.returncode == 0, done.stderr
    out = done.stdout.replace("\\", "")  # printf %q escapes commas
    assert "would run: pct create 240" in out
    assert "ip=192.168.7.50/24,gw=192.168.7.1" in out
    assert "would append to" in out
    assert "lxc.cgroup2.devices.allow: c 508:* rwm" in out
    assert "would run: pct start 240" in out
    assert "container-install.sh" in out
    assert not host.conf.exists()
    assert not [c for c in host.calls if c.startswith(MUTATING)]


def test_over_ssh(host: Host) -> None:
    done = host.run("--host", "root@pve")
    assert done.returncode == 0, done.stderr
    ssh_calls = [c for c in host.calls if c.startswith("ssh ")]
    assert any("BatchMode=yes" in c and c.endswith("root@pve true") for c in ssh_calls)
    assert any("pve-host.sh" in c for c in ssh_calls)
    assert "pct create 240" in "\n".join(host.calls)  # ran on the (pretend) host
    assert "endpoint: ws://10.0.0.50:8000/v1/stream" in done.stdout
    assert not list(host.root.glob("kyutai-dictate-deploy.*"))  # the copy was removed


def test_dry_run_over_ssh_leaves_nothing_behind(host: Host) -> None:
    done = host.run("--host", "root@pve", "--dry-run")
    assert done.returncode == 0, done.stderr
    assert "would run: pct create 240" in done.stdout
    assert not list(host.root.glob("kyutai-dictate-deploy.*"))
    assert not host.conf.exists()


@pytest.mark.parametrize(
    ("args", "setup", "message"),
    [
        (["--host", "root@unreachable"], None, "cannot reach root@unreachable"),
        (["--ctid", "abc"], None, "'abc' is not a number"),
        (["--model", "whisper"], None, "--model must be"),
        (["--bogus"], None, "unknown option --bogus"),
        ([], "no-uvm", "nvidia-uvm is not in"),
        ([], "no-pct", "pct not found"),
    ],
)
def test_clear_errors(
    host: Host, tmp_path: Path, args: list[str], setup: str | None, message: str
) -> None:
    path_extra = None
    if setup == "no-pct":
        path_extra = tmp_path / "bin"
        path_extra.mkdir()
        shutil.copy(STAND_INS / "nvidia-smi", path_extra)
    if setup == "no-uvm":
        host.uvm_major = None
    done = host.run(*args, path_extra=path_extra)
    assert done.returncode != 0
    assert message in done.stderr


def test_systemd_units_verify(tmp_path: Path) -> None:
    if shutil.which("systemd-analyze") is None:
        pytest.fail("systemd-analyze is missing: run the README's test command (tests/run)")
    fake_prefix = tmp_path / "opt"
    for binary in ("bin/moshi-server", "venv/bin/python"):
        path = fake_prefix / binary
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("#!/bin/sh\n")
        path.chmod(0o755)
    units = []
    for unit in sorted((ROOT / "server/deploy/systemd").glob("*.service")):
        text = unit.read_text()
        if "moshi-server" in unit.name:  # it needs /dev/nvidia* and writable+executable memory
            settings = [line.split("=")[0] for line in text.splitlines() if "=" in line]
            assert "PrivateDevices" not in settings
            assert "MemoryDenyWriteExecute" not in settings
        copy = tmp_path / unit.name
        copy.write_text(text.replace("/opt/kyutai-dictate", str(fake_prefix)))
        units.append(str(copy))
    done = subprocess.run(
        ["systemd-analyze", "verify", *units], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr.strip() == "", done.stderr  # unknown keys and bad values only warn
