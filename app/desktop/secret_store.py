"""Secrets (tokens, keys) in the OS keyring under the service name ``kyutai-dictate``.

Never in the settings file or the logs. Where the only keyring available would write them
in plain text (or there is none), storing is refused with a message saying what to do
instead, and nothing is read from it.
"""

from __future__ import annotations

import keyring
from keyring.backend import KeyringBackend
from keyring.backends.chainer import ChainerBackend
from keyring.errors import KeyringError, PasswordDeleteError

from app.core.credentials import Secret, SecretReadError
from app.core.errors import AppError

SERVICE = "kyutai-dictate"

# Backends that keep secrets unencrypted on disk, store nothing, or (keyrings.alt's encrypted
# file) ask for a password on a terminal that a desktop app does not have.
_UNSAFE = {"keyring.backends.fail.Keyring", "keyring.backends.null.Keyring"}
_UNSAFE_PACKAGES = ("keyrings.alt.",)
_INSTALL = "GNOME Keyring, KWallet or KeePassXC's Secret Service on Linux"


class SecretStoreError(AppError):
    """A secret could not be stored or deleted (no safe keyring, or the keyring failed)."""


def unsafe_keyring() -> str | None:
    """The name of the keyring backend if it is one the app refuses, else None. keyring's
    chainer writes to its first backend, so that one is judged."""
    backend = keyring.get_keyring()
    if isinstance(backend, ChainerBackend):
        members = list(backend.backends)
        backend = members[0] if members else backend
    name = f"{type(backend).__module__}.{type(backend).__qualname__}"
    return name if is_unsafe(name) else None


def is_unsafe(backend_name: str) -> bool:
    """Whether the keyring backend called ``backend_name`` (module.class) is refused."""
    return backend_name in _UNSAFE or backend_name.startswith(_UNSAFE_PACKAGES)


def _safe_backend() -> KeyringBackend | None:
    return None if unsafe_keyring() else keyring.get_keyring()


def store(secret: Secret, value: str) -> None:
    """Save ``value``; raises :class:`SecretStoreError` rather than store it unsafely."""
    backend = _safe_backend()
    if backend is None:
        raise SecretStoreError(
            f"no secure keyring is available ({unsafe_keyring()}), and secrets are never "
            f"stored in plain text: install and unlock one ({_INSTALL}), or set "
            f"{secret.env_name} in the environment that starts the app"
        )
    try:
        backend.set_password(SERVICE, secret.value, value)
    except KeyringError as exc:
        raise SecretStoreError(f"the keyring refused to store {secret.value}: {exc}") from None


def delete(secret: Secret) -> None:
    """Forget the saved value (nothing happens if there is none, or no keyring to hold one)."""
    backend = _safe_backend()
    if backend is None:
        return  # nothing of ours can be in it
    try:
        backend.delete_password(SERVICE, secret.value)
    except PasswordDeleteError:
        pass  # there was none
    except KeyringError as exc:
        raise SecretStoreError(f"the keyring refused to delete {secret.value}: {exc}") from None


def load(secret: Secret) -> str | None:
    """The saved value, or None; raises :class:`~app.core.credentials.SecretReadError` when the
    keyring cannot be read (see :func:`app.core.credentials.find_secret`, which never raises)."""
    backend = _safe_backend()
    if backend is None:
        raise SecretReadError(f"no secure keyring is available ({unsafe_keyring()})")
    try:
        return backend.get_password(SERVICE, secret.value)
    except KeyringError as exc:
        raise SecretReadError(f"the keyring could not read {secret.value}: {exc}") from None
