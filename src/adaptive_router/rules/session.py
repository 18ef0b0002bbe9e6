"""The session rule: a conversation stays on the tier it is pinned to.

The router pins a session (see :mod:`adaptive_router.sessions`) to the tier the complexity
rule chose for its first turn. Later turns stay there, whatever they score, so a "thanks!"
after a hard question keeps the model and the prefix cache that hold the conversation.

One move is allowed: a session on tier_low moves up to tier_high, for good, when a turn
scores at least ``session_escalate_score`` (and at least the threshold in force): the
conversation has turned hard, and staying would cost more than a cold cache. A session never
moves down. The rule comes after the hard constraints and the protection of a struggling
tier, so a session whose tier is down or saturated goes where those rules send it, with no
error, and comes back once its tier recovers.
"""

from __future__ import annotations

from adaptive_router.rules.base import RoutingContext, Verdict
from adaptive_router.tiers import TIER_HIGH, TIER_LOW


class SessionRule:
    """A request of a pinned session goes to its session's tier (tier_low may move up)."""

    name = "session"

    def __call__(self, ctx: RoutingContext) -> Verdict | None:
        pinned = ctx.session_tier
        if pinned is None:
            return None
        if pinned == TIER_LOW:
            score = ctx.score.total
            bar = max(ctx.config.session_escalate_score, ctx.threshold_in_force())
            if score >= bar:
                return Verdict(TIER_HIGH, f"session moves up: score {score:.2f} >= {bar:.2f}")
        return Verdict(pinned, f"session pinned to {pinned}")
