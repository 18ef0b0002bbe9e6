"""The hard constraints on a request's size and shape: capability, then context.

- ``capability``: a request with images goes to a tier that can see, one with ``tools`` to
  a tier that takes tools;
- ``context``: a prompt goes to a tier whose context window holds the estimated prompt
  tokens plus the ``max_tokens`` the request will get there. When that is a tier's default
  (the client asked for none) and it fits nowhere, the prompt goes to the tier with the most
  room and the default is lowered to that room (see :meth:`Needs.output_limits`).

Each abstains while both tiers may serve the request (an unknown capability or context
counts as "may"), diverts to the only tier that can, and refuses with a 400 when neither
can: nothing is sent upstream for a request no engine could answer.
"""

from __future__ import annotations

from adaptive_router.errors import BadRequest
from adaptive_router.rules.base import RoutingContext, TierFacts, Verdict
from adaptive_router.tiers import TIERS, Tier, other_tier

_UNKNOWN = TierFacts()
_WHAT = {"vision": "images", "tools": "tools"}


def facts(ctx: RoutingContext, tier: Tier) -> TierFacts:
    """What ``tier`` can take (all unknown when nothing is known)."""
    return ctx.tiers.get(tier, _UNKNOWN)


class CapabilityRule:
    """Images go to a tier that can see; ``tools`` to a tier that takes tools."""

    name = "capability"

    def __call__(self, ctx: RoutingContext) -> Verdict | None:
        if not (ctx.needs.vision or ctx.needs.tools):
            return None
        needed = [kind for kind in ("vision", "tools") if getattr(ctx.needs, kind)]
        lacking = {
            tier: [k for k in needed if getattr(facts(ctx, tier), k) is False] for tier in TIERS
        }
        able = [tier for tier in TIERS if not lacking[tier]]
        if len(able) == len(TIERS):
            return None
        if not able:
            why = "; ".join(f"{tier}_{k}=false" for tier in TIERS for k in lacking[tier])
            what = " and ".join(_WHAT[k] for k in needed)
            raise BadRequest(
                f"no tier can take this request's {what} ({why}); send it without them, or "
                "point a tier at a model that has them and set its setting to true or auto",
                param="messages" if "vision" in needed else "tools",
                code="unsupported_capability",
            )
        tier = able[0]
        what = " and ".join(_WHAT[k] for k in lacking[other_tier(tier)])
        return Verdict(tier, f"request has {what}; {other_tier(tier)} cannot take them")


class ContextRule:
    """A prompt that does not fit one tier's context window goes to the tier where it fits;
    one that fits nowhere gets a 400 ``context_length_exceeded``."""

    name = "context"

    def __call__(self, ctx: RoutingContext) -> Verdict | None:
        if not any(f.context_tokens for f in ctx.tiers.values()):
            return None  # no window known: nothing to check
        window = {tier: facts(ctx, tier).context_tokens for tier in TIERS}
        needs = ctx.needs
        need = {tier: needs.prompt_tokens + needs.output_tokens.get(tier, 0) for tier in TIERS}
        fits = [tier for tier in TIERS if need[tier] <= (window[tier] or need[tier])]
        if len(fits) == len(TIERS):
            return None
        roomy = [tier for tier in TIERS if needs.prompt_tokens < (window[tier] or 0)]
        if not fits and not (needs.flexible and roomy):
            sizes = ", ".join(f"{tier} {window[tier]}" for tier in TIERS)
            raise BadRequest(
                f"This request needs about {max(need.values())} tokens (prompt about "
                f"{needs.prompt_tokens}, plus max_tokens), more than any tier's context window "
                f"({sizes} tokens). Shorten the messages or lower max_tokens.",
                param="messages",
                code="context_length_exceeded",
            )
        if fits:
            tier = fits[0]
            short = other_tier(tier)
            return Verdict(
                tier,
                f"about {need[short]} tokens (prompt ~{needs.prompt_tokens} + max_tokens "
                f"{needs.output_tokens.get(short, 0)}) > {short} context {window[short]}",
            )
        tier = max(roomy, key=lambda t: window[t] or 0)
        return Verdict(
            tier,
            f"prompt ~{needs.prompt_tokens} + default max_tokens fits no tier; {tier} has the "
            f"most room (context {window[tier]}): max_tokens lowered to fit",
        )
