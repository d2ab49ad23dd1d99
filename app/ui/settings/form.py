"""What the settings dialog shows and how its fields become settings (pure: no Qt).

Labels for the choices, which fields each backend kind uses, field validation, the microphone
list, the deploy commands, and the conversion of the form's values back into :class:`Settings`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from app.core.credentials import Secret
from app.core.endpoint import EndpointError, check_modal_url, check_ws_url, modal_stream_url
from app.core.hotkey import ChordError, parse_chord
from app.core.settings import (
    BackendKind,
    BackendSettings,
    HotkeyMode,
    NewlineKey,
    ServerProtocol,
    TypingMethod,
)
from app.core.voice_edits import CAPTIONS, COMMAND_PHRASES
from server.protocol import moshi

if TYPE_CHECKING:
    from app.audio.microphone import InputDevice

BACKEND_LABELS: dict[BackendKind, str] = {
    BackendKind.MODAL: "Modal (serverless GPU)",
    BackendKind.PROXY: "Proxmox or custom proxy",
    BackendKind.MOSHI: "Direct moshi-server",
    BackendKind.ENGINE: "This computer (local engine, starts with the app)",
}
MODE_LABELS: dict[HotkeyMode, str] = {
    HotkeyMode.HOLD: "Hold to talk",
    HotkeyMode.TOGGLE: "Press to start, press again to stop",
    HotkeyMode.HANDS_FREE: "Hands-free: press to start, stops when you stop speaking",
}
TYPING_LABELS: dict[TypingMethod, str] = {
    TypingMethod.AUTO: "Automatic (the best for this desktop)",
    TypingMethod.XTEST: "X11 key events (XTEST, any character)",
    TypingMethod.XDOTOOL: "xdotool (X11)",
    TypingMethod.WTYPE: "wtype (Wayland, wlroots desktops)",
    TypingMethod.YDOTOOL: "ydotool (Wayland or console, needs ydotoold; ASCII only)",
    TypingMethod.DOTOOL: "dotool (Wayland or console, needs uinput; ASCII only)",
    TypingMethod.PORTAL: "Desktop portal keyboard (GNOME, KDE; any character)",
    TypingMethod.PYNPUT: "pynput (Windows, macOS)",
    TypingMethod.CLIPBOARD: "Paste through the clipboard (restored afterwards)",
}
PROTOCOL_LABELS: dict[ServerProtocol, str] = {
    ServerProtocol.AUTO: "Automatic (the server says which)",
    ServerProtocol.CURRENT: "kyutai-dictate proxy",
    ServerProtocol.ORIGINAL: "Original service (kyutai_modal)",
}
NEWLINE_LABELS: dict[NewlineKey, str] = {
    NewlineKey.RETURN: "Return",
    NewlineKey.SHIFT_RETURN: "Shift+Return (chat apps, where Return sends)",
}
HANDS_FREE_NOTE = (
    "Hands-free listens for the model's end of speech, not for quiet: a quiet voice or a breath "
    "does not stop it. stt-2.6b-en predicts no end of speech, so with it a dictation stops "
    "after 3 s without a word. The hotkey, the tray or 'kyutai-dictate stop' stop it too."
)
SYSTEM_DEFAULT = "System default"


def command_list() -> str:
    """The voice commands, one a line: what it does, then what to say."""
    return "\n".join(
        f"{CAPTIONS[kind]}: " + ", ".join(f"“{phrase}”" for phrase in phrases)
        for kind, phrases in COMMAND_PHRASES.items()
    )


# The form's rows (by name) that each backend kind uses.
URL, WORKSPACE, LABEL, MODEL = "url", "modal_workspace", "modal_label", "model"
PROTOCOL = "protocol"
ENGINE_NOTE = "engine note"  # not a field: what the local engine found (device, speed)
ENGINE_NOT_RUNNING = (
    "No local engine is running in this session: it starts with the app when this backend is "
    "chosen (save, then quit and start the app again), and its device and measured speed "
    "show here."
)
ROWS: dict[BackendKind, tuple[str, ...]] = {
    BackendKind.MODAL: (URL, WORKSPACE, LABEL, PROTOCOL, Secret.MODAL_KEY, Secret.MODAL_SECRET),
    BackendKind.PROXY: (URL, PROTOCOL, Secret.PROXY_TOKEN),
    BackendKind.MOSHI: (URL, MODEL, Secret.MOSHI_API_KEY),
    BackendKind.ENGINE: (MODEL, ENGINE_NOTE),
}
URL_PLACEHOLDERS: dict[BackendKind, str] = {
    BackendKind.MODAL: "or the app's full URL: https://workspace--label.modal.run",
    BackendKind.PROXY: "wss://host:8000/v1/stream",
    BackendKind.MOSHI: f"ws://host:8080{moshi.PATH}",
}
SECRET_LABELS: dict[Secret, str] = {
    Secret.MODAL_KEY: "Proxy auth key",
    Secret.MODAL_SECRET: "Proxy auth secret",
    Secret.PROXY_TOKEN: "Token",
    Secret.MOSHI_API_KEY: "API key",
}


def keyring_note(refusal: str) -> str:
    """Settings' advice where the only keyring is unsafe: the environment instead."""
    names = ", ".join(secret.env_name for secret in Secret)
    return (
        f"No secure keyring on this desktop ({refusal}), and keys are never saved in plain "
        f"text. Set them in the environment that starts the app instead ({names}; for "
        "example in ~/.config/environment.d/kyutai-dictate.conf, then log in again), or "
        "install and unlock a keyring (GNOME Keyring, KWallet, KeePassXC). A backend that "
        "needs no key works as it is."
    )


FIRST_RUN_TEXT = (
    "<b>Welcome to Kyutai Dictate.</b> Speech is recognised on a GPU server of your own. "
    "Choose one:<ul>"
    "<li><b>Deploy to Modal</b>: a serverless GPU that scales to zero when you are not "
    "dictating (you pay per second of use; needs a Modal account).</li>"
    "<li><b>Use a Proxmox server with a GPU</b>: the backend is installed in a container on "
    "it.</li>"
    "<li><b>Enter the URL of an existing server</b>: a kyutai-dictate proxy or a "
    "moshi-server.</li></ul>"
)


@dataclass(frozen=True)
class BackendForm:
    """The backend fields as typed."""

    kind: BackendKind | None
    url: str = ""
    modal_workspace: str = ""
    modal_label: str = ""
    model: str = ""  # direct moshi-server: the model it serves ("" keeps the saved one)
    protocol: ServerProtocol | None = None  # None keeps the saved one


def visible_rows(kind: BackendKind | None) -> frozenset[str]:
    """The rows to show for ``kind`` (none until a kind is chosen)."""
    return frozenset(ROWS[kind]) if kind is not None else frozenset()


def backend_from_form(form: BackendForm, original: BackendSettings) -> BackendSettings:
    """The backend settings the form describes (blank fields keep their defaults)."""
    label = form.modal_label.strip() or BackendSettings().modal_label
    return replace(
        original,
        kind=form.kind,
        url=form.url.strip(),
        modal_workspace=form.modal_workspace.strip(),
        modal_label=label,
        model=form.model or original.model,
        protocol=form.protocol or original.protocol,
    )


def backend_problem(form: BackendForm) -> str | None:
    """What is wrong with the fields the chosen kind uses, or None (blank is not wrong)."""
    try:
        if form.kind is BackendKind.MODAL and form.url.strip():
            check_modal_url(form.url, "URL")
        elif form.kind is BackendKind.MODAL:
            workspace, label = form.modal_workspace.strip(), form.modal_label.strip()
            if workspace or label:
                modal_stream_url(workspace or "x", label or "x", ("Workspace", "App label"))
        elif form.kind is not None and form.url.strip():
            check_ws_url(form.url, "URL")
    except EndpointError as exc:
        return str(exc)
    return None


def hotkey_problem(text: str) -> str | None:
    """Why ``text`` is not a usable hotkey, or None."""
    try:
        parse_chord(text)
    except ChordError as exc:
        return str(exc)
    return None


def secrets_to_store(
    typed: Mapping[Secret, str], loaded: Mapping[Secret, str]
) -> dict[Secret, str]:
    """The secrets to write: non-empty and different from what the keyring had (an emptied
    field is for :func:`secrets_to_delete`)."""
    return {
        secret: value.strip()
        for secret, value in typed.items()
        if value.strip() and value.strip() != loaded.get(secret, "")
    }


def secrets_to_delete(typed: Mapping[Secret, str], loaded: Mapping[Secret, str]) -> list[Secret]:
    """The saved secrets whose field the user emptied: a token cleared when moving to a
    server without one must not be sent to that server."""
    return [secret for secret, value in typed.items() if not value.strip() and secret in loaded]


def microphone_choices(
    devices: Sequence[InputDevice], saved: str
) -> tuple[list[tuple[str, str]], int]:
    """``(label, device name)`` items for the microphone list and the one to select: the system
    default first, each device name once, and a saved device that is not connected now kept
    (marked so) and selected."""
    items = [(SYSTEM_DEFAULT, "")]
    for device in devices:
        if all(name != device.name for _, name in items):
            items.append((device.name, device.name))
    if saved and all(name != saved for _, name in items):
        items.append((f"{saved} (not connected)", saved))
    index = next(i for i, (_, name) in enumerate(items) if name == saved)
    return items, index


def device_index(devices: Sequence[InputDevice], name: str) -> int | None:
    """The PortAudio index of the device called ``name`` (None: the default, or absent)."""
    return next((device.index for device in devices if device.name == name), None)


def opacity_from_slider(percent: int, original: float) -> float:
    """The overlay opacity for a slider at ``percent``; the original value when unmoved."""
    return original if percent == opacity_percent(original) else percent / 100


def opacity_percent(opacity: float) -> int:
    return round(opacity * 100)


def ssh_target_problem(text: str) -> str | None:
    """Why ``text`` is not a USER@HOST for ssh, or None."""
    text = text.strip()
    if not text:
        return "enter USER@HOST of the Proxmox host (e.g. root@pve)"
    if text.startswith("-") or any(c.isspace() for c in text):
        return f"{text!r} is not USER@HOST"
    return None


def deploy_command(
    target: str, args: Sequence[str], config: Path | None, app: Sequence[str]
) -> list[str]:
    """``APP deploy TARGET ARGS...``: what the deploy buttons run (``app``: the command that
    runs this app, see :func:`app.desktop.autostart.launch_command`). A deploy writes its
    endpoint into ``config``."""
    command = [*app, "deploy", target, *args]
    if config is not None and target in ("modal", "proxmox"):
        command += ["--config", str(config)]
    return command


_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07")


def clean_output(text: str) -> str:
    """A command's output for a plain log: colour and cursor codes removed, ``\\r`` progress
    updates on lines of their own."""
    text = _ANSI.sub("", text).replace("\r\n", "\n")
    return text.replace("\r", "\n")


_TOKEN_LINE = re.compile(r"(?m)^(\s*token: )\S+")


def hide_secrets(text: str) -> str:
    """Whole lines of deploy output with a printed proxy token replaced by ``***``: the
    dialog's log never shows it (the deploy command itself shows it only where the keyring
    refused it, on its own line to the user)."""
    return _TOKEN_LINE.sub(r"\1*** (hidden)", text)


def last_lines(text: str, count: int = 6) -> str:
    """The last ``count`` non-blank lines of ``text`` (a failed deploy's error)."""
    lines = [line for line in text.splitlines() if line.strip()]
    return "\n".join(lines[-count:])


def deployed_message(backend: BackendSettings, secrets: Mapping[Secret, str]) -> str:
    """What the dialog says after a deploy reloaded ``backend`` from the settings file."""
    message = f"Deployed: {backend.stream_url()}"
    if backend.kind is BackendKind.MODAL and not (
        secrets.get(Secret.MODAL_KEY) and secrets.get(Secret.MODAL_SECRET)
    ):
        message += (
            "\nNow enter a Modal proxy auth token (modal.com, Settings > Proxy Auth Tokens) "
            "and press Save."
        )
    return message
