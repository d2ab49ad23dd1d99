"""``kyutai-dictate deploy``: its options and what it prints (the work is in
:mod:`app.cli.deploy`, loaded when the command runs)."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from app.cli.options import PROG, positive_int

# The options of server/deploy/proxmox/pve-host.sh that `deploy proxmox` passes on as given.
PROXMOX_FLAGS = ("ctid", "hostname", "cores", "memory", "disk", "storage", "template", "bridge",
                 "ip", "gateway", "model", "batch-size", "port")  # fmt: skip


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The deploy targets and their options."""
    targets = parser.add_subparsers(dest="target", metavar="TARGET", required=True)
    modal = targets.add_parser("modal", help="deploy to Modal (serverless GPU, scales to zero)")
    modal.add_argument("--gpu", help="Modal GPU type (default L40S; $KYUTAI_GPU)")
    modal.add_argument("--batch-size", type=positive_int, help="streams per GPU (default 8)")
    modal.add_argument("--model", help="kyutai/stt-1b-en_fr (default) or kyutai/stt-2.6b-en")
    modal.add_argument("--app-name", help="Modal app name and URL label (default kyutai-dictate)")
    modal.add_argument("--config", type=Path, help="settings file to update (default: the app's)")
    modal.add_argument(
        "--health-timeout",
        type=float,
        default=600,
        metavar="SECONDS",
        help="ask the endpoint's /healthz until it answers, at most this long (needs MODAL_KEY "
        "and MODAL_SECRET; 0: only print how to check; default 600)",
    )
    pve = targets.add_parser("proxmox", help="deploy to an LXC container on a Proxmox VE host")
    pve.add_argument("--host", help="USER@HOST of the Proxmox host (default: this machine)")
    pve.add_argument(
        "--dry-run", action="store_true", help="print what would change, change nothing"
    )
    pve.add_argument("--config", type=Path, help="settings file to update (default: the app's)")
    for flag in PROXMOX_FLAGS:
        pve.add_argument(f"--{flag}", help="see server/deploy/proxmox/pve-host.sh --help")
    status = targets.add_parser(
        "status", help="list the deployed Modal apps, or say whether an endpoint can stream"
    )
    status.add_argument(
        "--url", help="a /v1/stream endpoint: show its /healthz (exit 1 unless a stream would work)"
    )
    stop = targets.add_parser("stop", help="stop a deployed Modal app")
    stop.add_argument("--app-name", default="kyutai-dictate", help="default kyutai-dictate")


def run(args: argparse.Namespace) -> int:
    """Deploy, show the status, or stop; the exit status."""
    from app.cli import deploy

    env = dict(os.environ)
    if args.target == "status":
        if args.url:
            ok, line = deploy.endpoint_health(args.url, env)
            print(f"{args.url}: {line}")
            return 0 if ok else 1
        print(deploy.modal_apps(env), end="")
        return 0
    if args.target == "stop":
        deploy.stop_modal(args.app_name, env)
        return 0
    if args.target == "modal":
        result = deploy.deploy_modal(args.gpu, args.batch_size, args.model, args.app_name, env)
        print(f"endpoint: {result.url}")
        _report(deploy.remember(result, args.config))
        print("clients authenticate with a Modal proxy auth token: set MODAL_KEY and MODAL_SECRET")
        return 0 if deploy.check_modal_endpoint(result.url, env, args.health_timeout) else 1
    found = deploy.deploy_proxmox(args.host, proxmox_script_args(args), env)
    if found is not None:
        print(f"endpoint: {found.url}")
        _report(deploy.remember(found, args.config))
    return 0


def proxmox_script_args(args: argparse.Namespace) -> list[str]:
    """The ``deploy proxmox`` options given, as pve-host.sh takes them."""
    script_args = [
        item
        for flag in PROXMOX_FLAGS
        if (value := getattr(args, flag.replace("-", "_"))) is not None
        for item in (f"--{flag}", str(value))
    ]
    return [*script_args, "--dry-run"] if args.dry_run else script_args


def _report(lines: list[str]) -> None:
    for line in lines:
        print(f"{PROG} deploy: {line}", file=sys.stderr)
