"""The secrets a backend may need, and where each is found (pure: no keyring, no I/O).

A secret comes from the environment (its variable wins, so scripts and desktops without a
secure keyring can dictate) or from the OS keyring (read through the function passed in).
A keyring that cannot be read is not an error by itself: it only matters, and is only
reported, when the backend turns out to need the secret.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import Enum, StrEnum

from app.core.errors import AppError


class Secret(StrEnum):
    """The secrets the app keeps, one keyring entry each."""

    PROXY_TOKEN = "proxy-token"  # bearer token of a self-hosted proxy
    MOSHI_API_KEY = "moshi-api-key"  # kyutai-api-key of a moshi-server
    MODAL_KEY = "modal-key"  # Modal proxy auth token id
    MODAL_SECRET = "modal-secret"  # Modal proxy auth token secret

    @property
    def env_name(self) -> str:
        """The environment variable that supplies it (and overrides the keyring)."""
        return ENV_NAMES[self]


# The CLI's names where it has one; the moshi-server key gets its own (KYUTAI_DICTATE_BACKEND_KEY
# is the proxy's setting for the key it sends to its backend, not a client secret).
ENV_NAMES: dict[Secret, str] = {
    Secret.PROXY_TOKEN: "KYUTAI_DICTATE_TOKEN",
    Secret.MOSHI_API_KEY: "KYUTAI_DICTATE_MOSHI_API_KEY",
    Secret.MODAL_KEY: "MODAL_KEY",
    Secret.MODAL_SECRET: "MODAL_SECRET",
}


class SecretReadError(AppError):
    """The keyring could not be read (none, an unsafe one, or a failure); the message says why."""


class Source(Enum):
    """Where a secret was found."""

    ENVIRONMENT = "environment"
    KEYRING = "keyring"
    NOWHERE = "nowhere"


@dataclass(frozen=True)
class FoundSecret:
    """A secret's value (None if not set), where it came from, and why the keyring could not
    be read (None if it could)."""

    secret: Secret
    value: str | None
    source: Source
    keyring_problem: str | None = None

    def where(self) -> str:
        """Where the value comes from, for Settings and messages."""
        if self.source is Source.ENVIRONMENT:
            return f"from the environment ({self.secret.env_name})"
        if self.source is Source.KEYRING:
            return "saved in the system keyring"
        return "not set"

    def missing_advice(self) -> str:
        """What to do about a needed secret that is not set."""
        if self.keyring_problem:
            return (
                f"the keyring could not be read ({self.keyring_problem}): set "
                f"{self.secret.env_name} in the app's environment, or make a secure keyring "
                "available and enter it in Settings"
            )
        return f"enter it in Settings or set {self.secret.env_name}"


SecretLookup = Callable[[Secret], FoundSecret]
ReadKeyring = Callable[[Secret], str | None]


def find_secret(secret: Secret, env: Mapping[str, str], read_keyring: ReadKeyring) -> FoundSecret:
    """``secret`` from ``env`` if set there, else from the keyring; never raises for a keyring
    that cannot be read (:class:`SecretReadError` becomes ``keyring_problem``)."""
    from_env = env.get(secret.env_name, "").strip()
    if from_env:
        return FoundSecret(secret, from_env, Source.ENVIRONMENT)
    try:
        value = read_keyring(secret)
    except SecretReadError as exc:
        return FoundSecret(secret, None, Source.NOWHERE, str(exc))
    if value:
        return FoundSecret(secret, value, Source.KEYRING)
    return FoundSecret(secret, None, Source.NOWHERE)


def secret_lookup(env: Mapping[str, str], read_keyring: ReadKeyring) -> SecretLookup:
    """A :data:`SecretLookup` over ``env`` and the keyring."""
    return lambda secret: find_secret(secret, env, read_keyring)
