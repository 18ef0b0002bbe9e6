"""The two tiers a request can go to, and the spellings users may write them in."""

from __future__ import annotations

from typing import Final, Literal, TypeAlias

Tier: TypeAlias = Literal["tier_low", "tier_high"]

TIER_LOW: Final[Tier] = "tier_low"
TIER_HIGH: Final[Tier] = "tier_high"
TIERS: Final[tuple[Tier, Tier]] = (TIER_LOW, TIER_HIGH)

_SPELLINGS: Final[dict[str, Tier]] = {
    "tier_low": TIER_LOW,
    "low": TIER_LOW,
    "tier_high": TIER_HIGH,
    "high": TIER_HIGH,
}


def parse_tier(value: str) -> Tier:
    """Return the tier named by ``value`` ("low", "tier_low", "high", "tier_high").

    >>> parse_tier("High")
    'tier_high'
    """
    tier = _SPELLINGS.get(value.strip().lower())
    if tier is None:
        raise ValueError(f"unknown tier {value!r}: use one of low, high, tier_low, tier_high")
    return tier


def other_tier(tier: Tier) -> Tier:
    """The tier that is not ``tier``."""
    return TIER_HIGH if tier == TIER_LOW else TIER_LOW
