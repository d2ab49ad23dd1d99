"""The Proxmox scripts run for real against stand-ins of pct, ssh, nvidia-smi and
nvidia-modprobe on the host, and of apt-get, curl and NVIDIA's installer in the container."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.support.pretend_pve import STAND_INS, container_env, pve_host_env

ROOT = Path(__file__).resolve().parents[3]
PROXMOX = ROOT / "server/deploy/proxmox"
HOST_SCRIPT = PROXMOX / "pve-host.sh"
CONTAINER_SCRIPT = PROXMOX / "container-install.sh"
NVIDIA_LIB = PROXMOX / "nvidia.sh"
SCRIPTS = [
    *sorted(PROXMOX.glob("*.sh")),
    *sorted(p for p in STAND_INS.rglob("*") if p.is_file()),
]
MUTATING = ("pct create", "pct start", "pct reboot", "pct push", "container-install.sh")


@dataclass
class Host:
    """A pretend Proxmox host: stand-ins first on PATH, state and configs in a temp dir."""

    root: Path
    uvm_major: int | None = 508  # None: the nvidia-uvm module is not loaded
    driver: str = "550.127.05"
    uvm_nodes: bool | None = None  # /dev/nvidia-uvm*: by default there when the module is
    extra_env: dict[str, str] = field(default_factory=dict)

    @property
    def calls(self) -> list[str]:
        log = self.root / "calls.log"
        return log.read_text().splitlines() if log.exists() else []

    @property
    def conf(self) -> Path:
        return self.root / "lxc" / "240.conf"

    def run(self, *args: str, path_extra: Path | None = None) -> subprocess.CompletedProcess[str]:
        env = pve_host_env(
            self.root, self.uvm_major, path_extra or STAND_INS, self.driver, self.uvm_nodes
        )
        env["HOME"] = str(self.root)
        env |= self.extra_env
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
    assert (
        "--driver-version 550.127.05 --cuda-version 12.4 --model stt-2.6b-en --batch-size 4 "
        in install
    )
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


# --- host NVIDIA driver: CUDA toolkit, device nodes ----------------------------------------


def install_call(host: Host) -> str:
    return next(c for c in host.calls if "container-install.sh" in c)


@pytest.mark.parametrize(
    ("driver", "cuda"),
    [
        ("535.216.03", "12.2"),  # Debian 12's driver
        ("550.127.05", "12.4"),
        ("560.35.03", "12.6"),
        ("570.133.07", "12.8"),
        ("580.65.06", "12.8"),  # newer drivers run 12.8; cudarc 0.16.2 builds with 12.8 at most
    ],
)
def test_cuda_toolkit_follows_the_host_driver(host: Host, driver: str, cuda: str) -> None:
    host.driver = driver
    done = host.run()
    assert done.returncode == 0, done.stderr
    assert f"--driver-version {driver} --cuda-version {cuda} " in install_call(host)
    assert f"CUDA {cuda}" in done.stderr


@pytest.mark.parametrize("driver", ["535.216.03", "550.127.05", "570.133.07"])
def test_first_run_then_nothing_to_do_with_each_host_driver(host: Host, driver: str) -> None:
    host.driver = driver
    first = host.run()
    assert first.returncode == 0, first.stderr
    assert "pct exec 240 -- /opt/kyutai-dictate/bin/smoke-test" in host.calls
    calls_before = len(host.calls)
    second = host.run()
    assert second.returncode == 0, second.stderr
    assert not [c for c in host.calls[calls_before:] if c.startswith(MUTATING)]


def test_a_new_host_driver_reinstalls_with_its_toolkit(host: Host) -> None:
    host.driver = "550.127.05"
    assert host.run().returncode == 0
    host.driver = "570.133.07"
    calls_before = len(host.calls)
    assert host.run().returncode == 0
    new = [c for c in host.calls[calls_before:] if "container-install.sh" in c]
    assert len(new) == 1
    assert "--driver-version 570.133.07 --cuda-version 12.8" in new[0]


@pytest.mark.parametrize("driver", ["525.147.05", "470.256.02"])
def test_a_driver_older_than_r535_stops_before_anything_changes(host: Host, driver: str) -> None:
    host.driver = driver
    done = host.run()
    assert done.returncode == 1
    assert f"NVIDIA driver {driver} is too old" in done.stderr
    assert "driver 535 or newer" in done.stderr
    assert not [c for c in host.calls if c.startswith("pct")]
    assert not host.conf.exists()


@pytest.mark.parametrize(("uvm_major", "uvm_nodes"), [(None, None), (508, False)])
def test_missing_uvm_device_nodes_are_created(
    host: Host, uvm_major: int | None, uvm_nodes: bool | None
) -> None:
    host.uvm_major, host.uvm_nodes = uvm_major, uvm_nodes
    done = host.run()
    assert done.returncode == 0, done.stderr
    assert "nvidia-modprobe -u -c=0" in host.calls
    assert (host.root / "dev/nvidia-uvm").exists()
    assert (host.root / "dev/nvidia-uvm-tools").exists()
    expected = 508 if uvm_major else 511  # the stand-in's module loads under 511
    assert f"lxc.cgroup2.devices.allow: c {expected}:* rwm" in host.conf.read_text()


def test_present_uvm_device_nodes_are_left_alone(host: Host) -> None:
    assert host.run().returncode == 0
    assert not [c for c in host.calls if c.startswith("nvidia-modprobe")]


def test_missing_uvm_nodes_without_nvidia_modprobe_stop_with_a_clear_message(
    host: Host, tmp_path: Path
) -> None:
    host.uvm_nodes = False
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("pct", "nvidia-smi"):
        shutil.copy(STAND_INS / tool, bin_dir)
    done = host.run(path_extra=bin_dir)
    assert done.returncode == 1
    assert "/dev/nvidia-uvm" in done.stderr
    assert "nvidia-modprobe -u -c=0" in done.stderr  # what to run once it is installed
    assert not [c for c in host.calls if c.startswith("pct")]


def test_uvm_module_that_does_not_load_stops_with_a_clear_message(host: Host) -> None:
    host.uvm_major = None
    host.extra_env = {"STANDIN_UVM_LOADABLE": "0"}
    done = host.run()
    assert done.returncode == 1
    assert "could not load nvidia-uvm" in done.stderr
    assert not [c for c in host.calls if c.startswith("pct")]


def test_dry_run_creates_no_device_nodes(host: Host) -> None:
    host.uvm_major = None
    done = host.run("--dry-run")
    assert done.returncode == 0, done.stderr
    assert "would run: nvidia-modprobe -u -c=0" in done.stdout
    assert not [c for c in host.calls if c.startswith("nvidia-modprobe")]
    assert not (host.root / "dev/nvidia-uvm").exists()


# --- the proxy token ---------------------------------------------------------------------


def test_the_token_is_not_printed_unless_asked(host: Host) -> None:
    done = host.run()
    assert done.returncode == 0, done.stderr
    assert "container-token" not in done.stdout + done.stderr
    assert "pct exec 240 -- cat /etc/kyutai-dictate/token" in done.stdout


def test_the_token_is_printed_for_the_app_when_asked(host: Host) -> None:
    done = host.run("--host", "root@pve", "--print-token")
    assert done.returncode == 0, done.stderr
    assert "token: container-token" in done.stdout.splitlines()


# --- inside the container ----------------------------------------------------------------

DESKTOP = "us.download.nvidia.com/XFree86/Linux-x86_64/{v}/NVIDIA-Linux-x86_64-{v}.run"
DATA_CENTER = "us.download.nvidia.com/tesla/{v}/NVIDIA-Linux-x86_64-{v}.run"


def run_nvidia_lib(
    root: Path, call: str, published: dict[str, str]
) -> subprocess.CompletedProcess[str]:
    script = f"set -euo pipefail; source {NVIDIA_LIB}; {call}"
    return subprocess.run(
        ["bash", "-c", script],
        env=container_env(root, published),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize(
    ("version", "where"),
    [("550.127.05", DESKTOP), ("535.216.03", DATA_CENTER), ("570.133.20", DATA_CENTER)],
    ids=["desktop", "data-center-535", "data-center-570"],
)
def test_driver_userspace_comes_from_the_desktop_or_the_data_center_path(
    tmp_path: Path, version: str, where: str
) -> None:
    done = run_nvidia_lib(
        tmp_path, f"install_nvidia_userspace {version}", {where.format(v=version): version}
    )
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "ct/installed-driver").read_text().strip() == version
    calls = (tmp_path / "calls.log").read_text().splitlines()
    installer = next(i for i, c in enumerate(calls) if c.startswith("nvidia-installer"))
    kmod = next(i for i, c in enumerate(calls) if c.startswith("apt-get") and "kmod" in c)
    assert kmod < installer  # the installer needs modprobe, lsmod, rmmod and depmod
    assert calls[installer] == (
        "nvidia-installer --silent --no-kernel-module --no-questions --ui=none"
    )


def test_a_driver_published_nowhere_names_both_paths_and_installs_nothing(tmp_path: Path) -> None:
    done = run_nvidia_lib(tmp_path, "install_nvidia_userspace 555.1.2", {})
    assert done.returncode != 0
    assert "https://" + DESKTOP.format(v="555.1.2") in done.stderr
    assert "https://" + DATA_CENTER.format(v="555.1.2") in done.stderr
    assert not (tmp_path / "ct/installed-driver").exists()
    assert not list(tmp_path.glob("*.run"))  # no half download left behind


def test_the_installer_stand_in_refuses_to_run_without_kmod(tmp_path: Path) -> None:
    path = DESKTOP.format(v="550.127.05")
    env = container_env(tmp_path, {path: "550.127.05"})
    done = subprocess.run(
        ["sh", str(tmp_path / "published" / path), "--silent", "--no-kernel-module"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 1
    assert "Unable to find the module utility `modprobe`" in done.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--driver-version", "525.147.05", "--cuda-version", "12.2"], "driver 535 or newer"),
        (["--driver-version", "550.127.05", "--cuda-version", "12.8"], "CUDA 12.8 needs"),
        (["--driver-version", "550.127.05"], "--cuda-version"),
    ],
)
def test_container_install_refuses_a_toolkit_the_driver_cannot_run(
    tmp_path: Path, args: list[str], message: str
) -> None:
    env = container_env(tmp_path, {})
    done = subprocess.run(
        ["bash", str(CONTAINER_SCRIPT), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert message in done.stderr
    assert not (tmp_path / "calls.log").exists()  # stopped before installing anything


# --- the stand-ins are as strict as the real tools -----------------------------------------


def test_pct_stand_in_refuses_what_pct_refuses(host: Host) -> None:
    env = pve_host_env(host.root)

    def pct(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(STAND_INS / "pct"), *args], env=env, capture_output=True, text=True, check=False
        )

    assert "does not exist" in pct("exec", "240", "--", "true").stderr
    assert pct("create", "240", "local:vztmpl/debian.tar.zst", "--memroy", "1").returncode == 255
    assert pct("create", "240", "local:vztmpl/debian.tar.zst", "--memory", "1").returncode == 0
    assert "not running" in pct("exec", "240", "--", "true").stderr
    assert "running CT" in pct("push", "240", __file__, "/root/x").stderr
    assert "not running" in pct("reboot", "240").stderr
    assert pct("start", "240").returncode == 0
    assert "already running" in pct("start", "240").stderr
    assert "already exists" in pct("create", "240", "local:vztmpl/debian.tar.zst").stderr


def test_nvidia_smi_stand_in_refuses_what_nvidia_smi_refuses(tmp_path: Path) -> None:
    env = pve_host_env(tmp_path)

    def smi(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(STAND_INS / "nvidia-smi"), *args], env=env, capture_output=True, text=True,
            check=False,
        )  # fmt: skip

    assert smi("--query-gpu=driver_version").returncode == 2  # --format is required
    assert smi("--query-gpu=drivers", "--format=csv").returncode == 2
    ok = smi("--query-gpu=driver_version,compute_cap", "--format=csv,noheader")
    assert ok.stdout == "550.127.05, 8.9\n"
