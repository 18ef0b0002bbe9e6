"""The rule contract: a small callable that decides a tier, with a reason, or abstains.

A rule is any object with a ``name`` and ``__call__(ctx) -> Verdict | None``. The router
asks its rules in order; the first verdict wins; if all abstain, ``default_tier`` answers.

    >>> class NightRule:
    ...     name = "night"
    ...     def __call__(self, ctx: RoutingContext) -> Verdict | None:
    ...         return Verdict("tier_low", "night shift") if ctx.text.startswith("zz") else None
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

from adaptive_router.config import RoutingConfig
from adaptive_router.scoring import Score
from adaptive_router.signals import TierLatency, TierLoad, VRAMSnapshot
from adaptive_router.tiers import Tier


@dataclass(frozen=True, slots=True)
class Verdict:
    """A rule's decision: the tier and a human-readable reason."""

    tier: Tier
    reason: str


@dataclass(frozen=True, slots=True)
class RoutingContext:
    """Everything a rule may look at for one request (all immutable)."""

    text: str
    score: Score
    requested_tier: Tier | None
    vram: VRAMSnapshot
    latency: Mapping[Tier, TierLatency]
    now: float
    config: RoutingConfig
    engines: Mapping[Tier, TierLoad] = field(default_factory=dict)  # tiers being polled


class Rule(Protocol):
    """A routing rule: returns a Verdict, or None to let the next rule decide."""

    @property
    def name(self) -> str: ...

    def __call__(self, ctx: RoutingContext) -> Verdict | None: ...
