"""``kyutai-dictate deploy``: put the backend on Modal or on a Proxmox host, check, stop.

The work is done by the deployment files under ``server/deploy``; this module checks the
prerequisites first (with messages that say what to do), runs them with their output
streamed, and reports the endpoint.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from app import secret_store, settings_store
from app.errors import AppError, UsageError
from app.secret_store import Secret
from app.settings import BackendKind, BackendSettings
from server.deploy.modal_cloud.settings import DEFAULT_APP_NAME, ModalSettings
from server.deploy.smoke_test import describe_health, fetch_health

PVE_HOST_SCRIPT = Path(__file__).resolve().parents[1] / "server/deploy/proxmox/pve-host.sh"
_MODAL_URL = re.compile(r"(https?)://[A-Za-z0-9.:-]+(?=[\s/]|$)")


@dataclass(frozen=True)
class Deployed:
    """What a deploy produced: the ``/v1/stream`` URL and, for Proxmox, the bearer token."""

    url: str
    token: str | None = None


_MODAL_STREAM_URL = re.compile(
    r"wss://(?P<workspace>[a-z0-9-]+?)--(?P<label>[a-z0-9-]+)\.modal\.run/"
)


def remember(deployed: Deployed, settings_path: Path | None) -> list[str]:
    """Make the deployed backend the app's backend: the endpoint into the settings file, the
    token into the keyring. Returns warnings for what could not be saved."""
    modal = _MODAL_STREAM_URL.match(deployed.url)
    if modal:
        backend = BackendSettings(
            BackendKind.MODAL, modal_workspace=modal["workspace"], modal_label=modal["label"]
        )
    else:
        backend = BackendSettings(BackendKind.PROXY, url=deployed.url)
    current = settings_store.load(settings_path)
    path = settings_store.save(replace(current, backend=backend), settings_path)
    warnings = [f"saved the endpoint in {path}"]
    if deployed.token is not None:
        try:
            secret_store.store(Secret.PROXY_TOKEN, deployed.token)
        except secret_store.SecretStoreError as exc:
            warnings.append(f"the token was not saved: {exc}")
    return warnings


def modal_cli(env: Mapping[str, str]) -> str:
    """The ``modal`` command: on PATH, or next to this Python (the ``deploy`` extra)."""
    found = shutil.which("modal", path=env.get("PATH"))
    if found:
        return found
    beside = Path(sys.executable).with_name("modal")
    if beside.exists():
        return str(beside)
    raise AppError(
        "the Modal client is not installed: uv sync --extra deploy "
        "(or pip install 'kyutai-dictate[deploy]')"
    )


def check_modal_token(env: Mapping[str, str], home: Path) -> None:
    """Raise unless a Modal token is configured (environment or ~/.modal.toml)."""
    if env.get("MODAL_TOKEN_ID") and env.get("MODAL_TOKEN_SECRET"):
        return
    if (home / ".modal.toml").is_file():
        return
    raise AppError(
        "no Modal token: run `modal token new` once (it opens a browser), "
        "or set MODAL_TOKEN_ID and MODAL_TOKEN_SECRET"
    )


def deploy_modal(
    gpu: str | None,
    batch_size: int | None,
    model: str | None,
    app_name: str | None = None,
    env: Mapping[str, str] | None = None,
) -> Deployed:
    """``modal deploy`` the backend app; returns its endpoint."""
    env = dict(os.environ if env is None else env)
    for name, value in (("KYUTAI_GPU", gpu), ("BATCH_SIZE", batch_size), ("MODEL_NAME", model),
                        ("KYUTAI_DICTATE_APP_NAME", app_name)):  # fmt: skip
        if value is not None:
            env[name] = str(value)
    try:
        settings = ModalSettings.from_env(env)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    env |= {
        "KYUTAI_GPU": settings.gpu,
        "BATCH_SIZE": str(settings.batch_size),
        "MODEL_NAME": settings.model.repo,
        "KYUTAI_DICTATE_APP_NAME": settings.app_name,
    }
    command = modal_cli(env)
    check_modal_token(env, Path(env.get("HOME", str(Path.home()))))
    print(
        f"deploying {settings.app_name}: {settings.model.name} on {settings.gpu}, "
        f"{settings.batch_size} streams per GPU (the first build takes 15-30 minutes)",
        file=sys.stderr,
    )
    output = run_streaming([command, "deploy", "-m", "server.deploy.modal_cloud.app"], env)
    urls = [m.group(0) for m in _MODAL_URL.finditer(output) if "modal.com" not in m.group(0)]
    if not urls:
        raise AppError("modal deploy succeeded but printed no web endpoint URL")
    return Deployed(stream_url(urls[-1]))


def deploy_proxmox(
    host: str | None, script_args: Sequence[str], env: Mapping[str, str]
) -> Deployed | None:
    """Run the Proxmox host script; returns the endpoint (None for a dry run)."""
    if host is not None and shutil.which("ssh", path=env.get("PATH")) is None:
        raise AppError("ssh is not installed: it is needed to reach the Proxmox host")
    args = [*(["--host", host] if host else []), *script_args]
    output = run_streaming(["bash", str(PVE_HOST_SCRIPT), *args], env)
    if "--dry-run" in script_args:
        return None
    url = re.search(r"^endpoint: (\S+)$", output, re.MULTILINE)
    token = re.search(r"^token: (\S+)$", output, re.MULTILINE)
    if url is None:
        raise AppError("the Proxmox deployment finished without reporting its endpoint")
    return Deployed(url.group(1), token.group(1) if token else None)


def modal_apps(env: Mapping[str, str]) -> str:
    """``modal app list`` output (the caller shows it)."""
    check_modal_token(env, Path(env.get("HOME", str(Path.home()))))
    return run_streaming([modal_cli(env), "app", "list"], env, echo=False)


def stop_modal(app_name: str, env: Mapping[str, str]) -> None:
    """Stop a deployed Modal app (its URL stops answering; deploy again to restart)."""
    check_modal_token(env, Path(env.get("HOME", str(Path.home()))))
    run_streaming([modal_cli(env), "app", "stop", app_name or DEFAULT_APP_NAME], env)


def endpoint_health(url: str, env: Mapping[str, str]) -> tuple[bool, str]:
    """Whether a stream to ``url`` would work now, from its ``/healthz``, and a line saying
    so (Modal endpoints get ``MODAL_KEY``/``MODAL_SECRET`` from ``env`` when set)."""
    headers = {}
    if ".modal.run" in url and env.get("MODAL_KEY") and env.get("MODAL_SECRET"):
        headers = {"Modal-Key": env["MODAL_KEY"], "Modal-Secret": env["MODAL_SECRET"]}
    try:
        health = fetch_health(url, headers)
    except OSError as exc:
        return False, f"not reachable ({getattr(exc, 'reason', None) or exc})"
    except ValueError as exc:
        return False, f"no health answer ({exc})"
    return health["status"] == "ok", describe_health(health)


def stream_url(web_url: str) -> str:
    """The ``/v1/stream`` WebSocket URL of a deployed web endpoint."""
    scheme, rest = web_url.rstrip("/").split("://", 1)
    return f"{'wss' if scheme == 'https' else 'ws'}://{rest}/v1/stream"


def run_streaming(command: Sequence[str], env: Mapping[str, str], echo: bool = True) -> str:
    """Run ``command``, echoing its output line by line as it comes; return the output.

    Raises :class:`AppError` with the exit status if it fails.
    """
    try:
        process = subprocess.Popen(
            command, env=dict(env), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
    except OSError as exc:
        raise AppError(f"cannot run {command[0]}: {exc.strerror}") from None
    lines = []
    assert process.stdout is not None
    for line in process.stdout:
        lines.append(line)
        if echo:
            print(line, end="", file=sys.stderr, flush=True)
    if process.wait() != 0:
        tail = "".join(lines[-5:]).strip()
        raise AppError(f"{Path(command[0]).name} failed (exit {process.returncode}): {tail}")
    return "".join(lines)
