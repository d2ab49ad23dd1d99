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

import server.deploy
from app.backend.endpoint_health import curl_command, health_url, wait_until_healthy
from app.core.credentials import Secret
from app.core.errors import AppError, UsageError
from app.core.settings import BackendKind, BackendSettings
from app.desktop import secret_store, settings_store
from server.deploy.modal_cloud.settings import DEFAULT_APP_NAME, ModalSettings
from server.deploy.smoke_test import describe_health, fetch_health
from server.protocol import modal_url

PVE_HOST_SCRIPT = Path(server.deploy.__file__).resolve().parent / "proxmox/pve-host.sh"
MODAL_APP_MODULE = "server.deploy.modal_cloud.app"
MODAL_LOGIN_COMMAND = ("token", "new")
_MODAL_URL = re.compile(r"(https?)://[A-Za-z0-9.:-]+(?=[\s/]|$)")
_TOKEN_LINE = re.compile(r"^token: (\S+)$", re.MULTILINE)


@dataclass(frozen=True)
class Deployed:
    """What a deploy produced: the ``/v1/stream`` URL and, for Proxmox, the bearer token."""

    url: str
    token: str | None = None


def remember(deployed: Deployed, settings_path: Path | None) -> list[str]:
    """Make the deployed backend the app's backend: the endpoint into the settings file, the
    token into the keyring. Returns what was saved where; the token is shown in full only
    when the keyring refused it (clients need it)."""
    modal = modal_url.parse(deployed.url)
    if modal:
        workspace, label = modal
        backend = BackendSettings(BackendKind.MODAL, modal_workspace=workspace, modal_label=label)
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
            warnings.append(f"clients send this token (KYUTAI_DICTATE_TOKEN): {deployed.token}")
        else:
            warnings.append("saved the proxy token in the keyring")
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
        f"no Modal token: run `modal {' '.join(MODAL_LOGIN_COMMAND)}` once (it opens a browser), "
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
    env |= settings.to_env()
    command = modal_cli(env)
    check_modal_token(env, Path(env.get("HOME", str(Path.home()))))
    print(
        f"deploying {settings.app_name}: {settings.model.name} on {settings.gpu}, "
        f"{settings.batch_size} streams per GPU (the first build takes 15-30 minutes)",
        file=sys.stderr,
    )
    output = run_streaming([command, *modal_deploy_command()], env)
    urls = [m.group(0) for m in _MODAL_URL.finditer(output) if "modal.com" not in m.group(0)]
    if not urls:
        raise AppError("modal deploy succeeded but printed no web endpoint URL")
    return Deployed(modal_url.websocket_url(urls[-1]))


def check_modal_endpoint(stream_url: str, env: Mapping[str, str], timeout: float) -> bool:
    """Ask the deployed endpoint's ``/healthz`` with the client's Modal proxy auth token until it
    answers (the first request starts a container and loads the model). Without a token, or
    with ``timeout`` 0, say how to check by hand. False if it was asked and did not answer."""
    url = health_url(stream_url)
    by_hand = curl_command(url, (("Modal-Key", "$MODAL_KEY"), ("Modal-Secret", "$MODAL_SECRET")))
    key, secret = env.get("MODAL_KEY", ""), env.get("MODAL_SECRET", "")
    if not (key and secret) or timeout <= 0:
        print(
            "check that the endpoint answers (200; the first request starts a container, "
            f"which loads the model first): {by_hand}",
            file=sys.stderr,
        )
        return True
    print(f"asking {url} until it answers (up to {timeout:.0f} s)", file=sys.stderr)
    headers = (("Modal-Key", key), ("Modal-Secret", secret))
    report = lambda answer: print(f"  {answer}", file=sys.stderr, flush=True)  # noqa: E731
    healthy, answer = wait_until_healthy(url, headers, timeout, report=report)
    if healthy:
        print(f"the endpoint answers: {url}", file=sys.stderr)
        return True
    refused = answer.startswith(("HTTP 401", "HTTP 403"))
    print(
        f"the endpoint {'refused MODAL_KEY/MODAL_SECRET' if refused else 'does not answer yet'}: "
        f"{answer}. It stays saved; "
        f"check it again with: {by_hand}",
        file=sys.stderr,
    )
    return False


def deploy_proxmox(
    host: str | None, script_args: Sequence[str], env: Mapping[str, str]
) -> Deployed | None:
    """Run the Proxmox host script; returns the endpoint (None for a dry run). The script
    prints the token for :func:`remember`; that line is not echoed."""
    if host is not None and shutil.which("ssh", path=env.get("PATH")) is None:
        raise AppError("ssh is not installed: it is needed to reach the Proxmox host")
    dry_run = "--dry-run" in script_args
    args = [*(["--host", host] if host else []), *script_args]
    if not dry_run:
        args.append("--print-token")
    output = run_streaming(["bash", str(PVE_HOST_SCRIPT), *args], env, hide=_TOKEN_LINE)
    if dry_run:
        return None
    url = re.search(r"^endpoint: (\S+)$", output, re.MULTILINE)
    token = _TOKEN_LINE.search(output)
    if url is None:
        raise AppError("the Proxmox deployment finished without reporting its endpoint")
    return Deployed(url.group(1), token.group(1) if token else None)


def modal_deploy_command() -> list[str]:
    """``modal`` arguments that deploy the backend app (settings come from the environment)."""
    return ["deploy", "-m", MODAL_APP_MODULE]


def modal_list_command() -> list[str]:
    return ["app", "list"]


def modal_stop_command(app_name: str) -> list[str]:
    """``--yes``: modal asks for confirmation otherwise, and aborts when it has no terminal."""
    return ["app", "stop", app_name or DEFAULT_APP_NAME, "--yes"]


def modal_apps(env: Mapping[str, str]) -> str:
    """``modal app list`` output (the caller shows it)."""
    check_modal_token(env, Path(env.get("HOME", str(Path.home()))))
    return run_streaming([modal_cli(env), *modal_list_command()], env, echo=False)


def stop_modal(app_name: str, env: Mapping[str, str]) -> None:
    """Stop a deployed Modal app (its URL stops answering; deploy again to restart)."""
    check_modal_token(env, Path(env.get("HOME", str(Path.home()))))
    run_streaming([modal_cli(env), *modal_stop_command(app_name)], env)


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


def run_streaming(
    command: Sequence[str],
    env: Mapping[str, str],
    echo: bool = True,
    hide: re.Pattern[str] | None = None,
) -> str:
    """Run ``command``, echoing its output line by line as it comes (except lines that
    ``hide`` matches: secrets); return the whole output.

    Raises :class:`AppError` with the exit status if it fails.
    """
    try:
        process = subprocess.Popen(
            command, env=dict(env), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
    except OSError as exc:
        raise AppError(f"cannot run {command[0]}: {exc.strerror}") from None
    lines, shown = [], []
    assert process.stdout is not None
    for line in process.stdout:
        lines.append(line)
        if hide and hide.match(line):
            continue
        shown.append(line)
        if echo:
            print(line, end="", file=sys.stderr, flush=True)
    if process.wait() != 0:
        tail = "".join(shown[-5:]).strip()
        raise AppError(f"{Path(command[0]).name} failed (exit {process.returncode}): {tail}")
    return "".join(lines)
