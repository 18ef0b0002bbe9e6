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
from adaptive_router.signals import EngineFacts, TierLatency, TierLoad, VRAMSnapshot
from adaptive_router.tiers import Tier


@dataclass(frozen=True, slots=True)
class Verdict:
    """A rule's decision: the tier and a human-readable reason."""

    tier: Tier
    reason: str


@dataclass(frozen=True, slots=True)
class Needs:
    """What one request needs from the tier that answers it.

    ``output_tokens`` is the ``max_tokens`` the request will get on each tier (0 = none is
    sent: the engine may fill its context); ``prompt_tokens`` is an estimate. ``flexible``:
    the output tokens are the tiers' defaults, not the client's ask, so they may be lowered
    to the room a tier's context window leaves.
    """

    prompt_tokens: int = 0
    output_tokens: Mapping[Tier, int] = field(default_factory=dict)
    vision: bool = False
    tools: bool = False
    flexible: bool = False

    def output_limits(self, windows: Mapping[Tier, int | None]) -> Mapping[Tier, int]:
        """The ``max_tokens`` each tier's request gets: as given, or, when ``flexible``, lowered
        to the room its context window leaves after the prompt (when there is any)."""
        if not self.flexible:
            return self.output_tokens
        limits = dict(self.output_tokens)
        for tier, limit in limits.items():
            room = (windows.get(tier) or 0) - self.prompt_tokens
            if 0 < room < limit or (room > 0 and limit == 0):
                limits[tier] = room
        return limits


# What a tier can take: its context window and capabilities (None = unknown), as set in the
# config or else as its engine reports them (adaptive_router.needs.tier_facts).
TierFacts = EngineFacts


@dataclass(frozen=True, slots=True)
class RoutingContext:
    """Everything a rule may look at for one request (all immutable).

    ``threshold`` is the complexity threshold in force (None: ``config.complexity_threshold``);
    ``session_tier`` the tier the request's conversation is pinned to, if any.
    """

    text: str
    score: Score
    requested_tier: Tier | None
    vram: VRAMSnapshot
    latency: Mapping[Tier, TierLatency]
    now: float
    config: RoutingConfig
    engines: Mapping[Tier, TierLoad] = field(default_factory=dict)  # tiers being polled
    needs: Needs = Needs()
    tiers: Mapping[Tier, TierFacts] = field(default_factory=dict)
    session_tier: Tier | None = None
    threshold: float | None = None

    def threshold_in_force(self) -> float:
        """The complexity threshold that applies to this request."""
        return self.config.complexity_threshold if self.threshold is None else self.threshold


class Rule(Protocol):
    """A routing rule: returns a Verdict, or None to let the next rule decide."""

    @property
    def name(self) -> str: ...

    def __call__(self, ctx: RoutingContext) -> Verdict | None: ...
