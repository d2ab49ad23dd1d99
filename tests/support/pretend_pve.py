"""A pretend Proxmox host for the deployment scripts: recording stand-ins of pct, ssh,
nvidia-smi and nvidia-modprobe first on PATH, their state, the container configs, /dev and
/proc/devices in a folder; and a pretend container for the NVIDIA steps run inside it."""

from __future__ import annotations

import os
from pathlib import Path

STAND_INS = Path(__file__).resolve().parent / "pve_stand_ins"
CONTAINER_STAND_INS = STAND_INS / "container"
GPU_NODES = ("nvidia0", "nvidiactl")
UVM_NODES = ("nvidia-uvm", "nvidia-uvm-tools")


def pve_host_env(
    root: Path,
    uvm_major: int | None = 508,
    bin_dir: Path = STAND_INS,
    driver: str = "550.127.05",
    uvm_nodes: bool | None = None,
) -> dict[str, str]:
    """Environment variables that make the scripts see a Proxmox host living in ``root``
    with NVIDIA driver ``driver`` (``uvm_major=None``: the nvidia-uvm module is not loaded;
    ``uvm_nodes``: whether /dev/nvidia-uvm* exist, by default when the module is loaded)."""
    devices = root / "devices"
    uvm = f"{uvm_major} nvidia-uvm\n" if uvm_major is not None else ""
    devices.write_text(f"Character devices:\n  1 mem\n195 nvidia\n{uvm}226 drm\n")
    dev = root / "dev"
    dev.mkdir(exist_ok=True)
    with_uvm = uvm_major is not None if uvm_nodes is None else uvm_nodes
    for node in GPU_NODES + (UVM_NODES if with_uvm else ()):
        (dev / node).touch()
    (root / "state").mkdir(exist_ok=True)
    return {
        "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
        "STANDIN_LOG": str(root / "calls.log"),
        "STANDIN_STATE": str(root / "state"),
        "STANDIN_DRIVER": driver,
        "PVE_LXC_DIR": str(root / "lxc"),
        "PVE_DEV_DIR": str(dev),
        "PROC_DEVICES": str(devices),
        "KYUTAI_DICTATE_REMOTE_TMP": str(root),
    }


def container_env(root: Path, published: dict[str, str]) -> dict[str, str]:
    """Environment for running the container-side NVIDIA steps in a pretend Debian 12
    container rooted at ``root``: apt-get and curl stand-ins, and NVIDIA's download server
    publishing the driver installers ``published`` (URL path -> version) and nothing else."""
    served = root / "published"
    template = (CONTAINER_STAND_INS / "nvidia-installer.run").read_text()
    for path, version in published.items():
        target = served / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(template.replace("@VERSION@", version))
    pretend = root / "ct"
    pretend.mkdir(exist_ok=True)
    # Only system folders without sbin: the module utilities must come from the pretend root.
    path = os.pathsep.join([str(CONTAINER_STAND_INS), str(pretend / "sbin"), str(pretend / "bin"),
                            "/usr/bin", "/bin"])  # fmt: skip
    return {
        "PATH": path,
        "HOME": str(root),
        "TMPDIR": str(root),
        "STANDIN_LOG": str(root / "calls.log"),
        "STANDIN_ROOT": str(pretend),
        "STANDIN_PUBLISHED": str(served),
        "STANDIN_EXTRA_PATH": os.pathsep.join(str(pretend / d) for d in ("bin", "sbin")),
    }
