"""Reading a Modal app's declarations offline, without credentials or network.

``Function.info()`` is public; the web-server settings, the autoscaler settings and the image
layers are only held by the client's private objects, so this module keeps that knowledge in
one place (checked against modal 1.6).
"""

from __future__ import annotations

import shlex
from typing import Any

from modal._utils.async_utils import synchronizer


def _closure(function: Any) -> dict[str, Any]:
    names = function.__code__.co_freevars
    return dict(
        zip(names, [cell.cell_contents for cell in function.__closure__ or ()], strict=True)
    )


def webhook_config(function: Any) -> Any:
    """The web endpoint's settings: port, label (``requested_suffix``), proxy auth."""
    return synchronizer._translate_in(function)._webhook_config


def autoscaler_settings(function: Any) -> Any:
    """min/max/buffer containers and the scale-down window."""
    return _closure(synchronizer._translate_in(function)._load)["autoscaler_settings"]


def image_commands(image: Any, builder_version: str = "2025.06") -> list[str]:
    """Every Dockerfile command of the image, base first."""
    inner = synchronizer._translate_in(image)
    closure = _closure(inner._load)
    commands: list[str] = []
    for key in ("base_image", "base_images"):
        bases = closure.get(key)
        if isinstance(bases, dict):
            for base in bases.values():
                commands += image_commands(base, builder_version)
        elif bases is not None:
            commands += image_commands(bases, builder_version)
    build = closure.get("dockerfile_function")
    if build is not None:
        commands += [c for c in build(builder_version).commands if not c.startswith("FROM base")]
    return commands


def raw_function(function: Any) -> Any:
    """The undecorated Python function that a Modal container calls."""
    return synchronizer._translate_in(function)._raw_f


def function_env(function: Any) -> dict[str, str]:
    """The environment a function declares: ``env=`` becomes ``Secret.from_dict`` in its
    spec's secrets (modal/_functions.py), whose loader returns the dict (modal/secret.py)."""
    env: dict[str, str] = {}
    for secret in synchronizer._translate_in(function)._spec.secrets:
        load = getattr(secret, "_load_env_dict", None)
        if load is not None:
            env |= load()
    return env


def image_env(image: Any) -> dict[str, str]:
    """The ``ENV`` lines of every layer (modal writes ``ENV KEY=<shlex-quoted value>``)."""
    env: dict[str, str] = {}
    for command in image_commands(image):
        if command.startswith("ENV "):
            for item in shlex.split(command[4:]):
                key, _, value = item.partition("=")
                env[key] = value
    return env
