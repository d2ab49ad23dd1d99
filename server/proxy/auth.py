"""Bearer-token check for the self-hosted proxy."""

from __future__ import annotations

import hmac
from collections.abc import Collection


def bearer_token(authorization: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header value, else None."""
    if not authorization:
        return None
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def is_authorized(authorization: str | None, tokens: Collection[str]) -> bool:
    """True when no tokens are configured or the header carries one of them."""
    if not tokens:
        return True
    offered = bearer_token(authorization)
    if offered is None:
        return False
    # Compare against every token so the time taken says nothing about which one matched.
    matches = [hmac.compare_digest(offered.encode(), t.encode()) for t in tokens]
    return any(matches)
