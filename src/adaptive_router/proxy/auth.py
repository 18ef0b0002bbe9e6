"""Client API keys: ``Authorization: Bearer <key>``, compared in constant time."""

from __future__ import annotations

import hmac
from collections.abc import Mapping, Sequence

from adaptive_router.errors import Unauthorized


def check_api_key(headers: Mapping[str, str], keys: Sequence[str]) -> None:
    """Pass when no keys are configured or the request carries one of them; else 401."""
    if not keys:
        return
    scheme, _, given = headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not given:
        raise Unauthorized(
            "missing API key: send 'Authorization: Bearer <key>'", code="invalid_api_key"
        )
    supplied = given.strip().encode()
    # Compare against every key (no early exit) so timing says nothing about which matched.
    matched = False
    for key in keys:
        matched |= hmac.compare_digest(supplied, key.encode())
    if not matched:
        raise Unauthorized("invalid API key", code="invalid_api_key")
