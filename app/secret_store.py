"""Secrets (tokens, keys) in the OS keyring under the service name ``kyutai-dictate``.

Never in the settings file or the logs. Where the only keyring available would write them
in plain text (or there is none), storing is refused with a message saying what to install.
"""

from __future__ import annotations

from enum import StrEnum

import keyring
from keyring.backend import KeyringBackend
from keyring.errors import KeyringError, PasswordDeleteError

from app.errors import AppError

SERVICE = "kyutai-dictate"

# Backends that keep secrets unencrypted on disk, or store nothing at all.
_UNSAFE = {
    "keyrings.alt.file.PlaintextKeyring",
    "keyring.backends.fail.Keyring",
    "keyring.backends.null.Keyring",
}


class Secret(StrEnum):
    """The secrets the app keeps, one keyring entry each."""

    PROXY_TOKEN = "proxy-token"  # bearer token of a self-hosted proxy
    MOSHI_API_KEY = "moshi-api-key"  # kyutai-api-key of a moshi-server
    MODAL_KEY = "modal-key"  # Modal proxy auth token id
    MODAL_SECRET = "modal-secret"  # Modal proxy auth token secret


class SecretStoreError(AppError):
    """No safe keyring, or the keyring failed."""


def _backend() -> KeyringBackend:
    backend = keyring.get_keyring()
    name = f"{type(backend).__module__}.{type(backend).__qualname__}"
    if name in _UNSAFE:
        raise SecretStoreError(
            f"no secure keyring is available ({name}): install and unlock one (GNOME Keyring, "
            "KWallet or KeePassXC's Secret Service on Linux); the secret was not stored"
        )
    return backend


def store(secret: Secret, value: str) -> None:
    """Save ``value``; raises :class:`SecretStoreError` rather than store it unsafely."""
    try:
        _backend().set_password(SERVICE, secret.value, value)
    except KeyringError as exc:
        raise SecretStoreError(f"the keyring refused to store {secret.value}: {exc}") from None


def delete(secret: Secret) -> None:
    """Forget the saved value (nothing happens if there is none)."""
    try:
        _backend().delete_password(SERVICE, secret.value)
    except PasswordDeleteError:
        pass  # there was none
    except KeyringError as exc:
        raise SecretStoreError(f"the keyring refused to delete {secret.value}: {exc}") from None


def load(secret: Secret) -> str | None:
    """The saved value, or None."""
    try:
        return _backend().get_password(SERVICE, secret.value)
    except KeyringError as exc:
        raise SecretStoreError(f"the keyring could not read {secret.value}: {exc}") from None
