"""Client API keys: ``Authorization: Bearer <key>``, compared in constant time, never logged.

Two checks: :func:`check_api_key` (may this client use /v1 at all?) and
:func:`check_may_force_tier` (may it pick the tier itself, with the tier header or a tier's
model name, rather than let the router decide?). No key, given or configured, is ever put in
an error message or a log line.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping, Sequence

from adaptive_router.errors import Unauthorized


def check_api_key(headers: Mapping[str, str], keys: Sequence[str]) -> None:
    """Pass when no keys are configured or the request carries one of them; else 401."""
    if not keys:
        return
    supplied = _bearer(headers)
    if supplied is None:
        raise Unauthorized(
            "missing API key: send 'Authorization: Bearer <key>'", code="invalid_api_key"
        )
    if not _matches(supplied, keys):
        raise Unauthorized("invalid API key", code="invalid_api_key")


def check_may_force_tier(headers: Mapping[str, str], keys: Sequence[str], how: str) -> None:
    """Pass when any client may force a tier (no keys configured) or this one carries one of
    ``keys``; else 401 naming ``how`` the request tried to force it."""
    if not keys:
        return
    supplied = _bearer(headers)
    if supplied is None or not _matches(supplied, keys):
        raise Unauthorized(
            f"{how} forces a tier, which needs an API key allowed to (force_tier_keys); "
            "use an adaptive model name instead",
            code="tier_forcing_not_allowed",
        )


def _bearer(headers: Mapping[str, str]) -> bytes | None:
    scheme, _, given = headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not given.strip():
        return None
    return given.strip().encode()


def _matches(supplied: bytes, keys: Sequence[str]) -> bool:
    # Compare against every key (no early exit) so timing says nothing about which matched.
    matched = False
    for key in keys:
        matched |= hmac.compare_digest(supplied, key.encode())
    return matched
