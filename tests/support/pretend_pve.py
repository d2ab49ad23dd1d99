"""A pretend Proxmox host for the deployment scripts: recording stand-ins of pct, ssh and
nvidia-smi first on PATH, their state, the container configs and /proc/devices in a folder."""

from __future__ import annotations

import os
from pathlib import Path

STAND_INS = Path(__file__).resolve().parent / "pve_stand_ins"


def pve_host_env(
    root: Path, uvm_major: int | None = 508, bin_dir: Path = STAND_INS
) -> dict[str, str]:
    """Environment variables that make the scripts see a Proxmox host living in ``root``
    (``uvm_major=None``: the nvidia-uvm module is not loaded)."""
    devices = root / "devices"
    uvm = f"{uvm_major} nvidia-uvm\n" if uvm_major is not None else ""
    devices.write_text(f"Character devices:\n  1 mem\n195 nvidia\n{uvm}226 drm\n")
    (root / "state").mkdir(exist_ok=True)
    return {
        "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
        "STANDIN_LOG": str(root / "calls.log"),
        "STANDIN_STATE": str(root / "state"),
        "PVE_LXC_DIR": str(root / "lxc"),
        "PROC_DEVICES": str(devices),
        "KYUTAI_DICTATE_REMOTE_TMP": str(root),
    }
