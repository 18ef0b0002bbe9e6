"""What a request needs from a tier, and what each tier can take: the inputs of the
capability and context rules, worked out once per request without a tokenizer.

    >>> needs = estimate_needs("hello there", RoutingConfig(), max_tokens=100)
    >>> needs.prompt_tokens, dict(needs.output_tokens)
    (10, {'tier_low': 100, 'tier_high': 100})
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import orjson

from adaptive_router.config import RoutingConfig
from adaptive_router.rules import Needs, TierFacts
from adaptive_router.scoring.text import Prompt, prompt_size
from adaptive_router.signals import EngineFacts, TierLoad
from adaptive_router.tiers import TIERS, Tier

MESSAGE_TOKENS = 6  # a chat template's role markers around each message
IMAGE_TOKENS = 512  # a rough guess per image: Gemma 3 takes 256, LLaVA-1.5 576, others more


def estimate_needs(
    prompt: Prompt,
    config: RoutingConfig,
    *,
    max_tokens: int | Mapping[Tier, int] | None = None,
    tools: object = None,
    flexible: bool = False,
) -> Needs:
    """The request's estimated prompt tokens (every message's text and the tool definitions,
    at ``chars_per_token`` plus ``context_margin``, plus the chat template's markers and the
    images), its ``max_tokens`` per tier, and whether it has images or tools."""
    size = prompt_size(prompt)
    chars = size.chars + (_json_chars(tools) if tools else 0)
    tokens = math.ceil(chars / config.chars_per_token * (1.0 + config.context_margin))
    tokens += size.messages * MESSAGE_TOKENS + size.images * IMAGE_TOKENS
    if max_tokens is None:
        output: Mapping[Tier, int] = {}
    elif isinstance(max_tokens, int):
        output = dict.fromkeys(TIERS, max_tokens)
    else:
        output = max_tokens
    return Needs(tokens, output, size.images > 0, bool(tools), flexible)


def tier_facts(config: RoutingConfig, loads: Mapping[Tier, TierLoad]) -> dict[Tier, TierFacts]:
    """What each tier can take: the config's settings first, else what its engine says."""
    facts = {}
    for tier in TIERS:
        load = loads.get(tier)
        found = load.facts if load is not None else EngineFacts()
        facts[tier] = TierFacts(
            context_tokens=config.context_tokens(tier) or found.context_tokens,
            vision=_first_known(config.capability(tier, "vision"), found.vision),
            tools=_first_known(config.capability(tier, "tools"), found.tools),
        )
    return facts


def _first_known(setting: bool | None, found: bool | None) -> bool | None:
    return setting if setting is not None else found


def _json_chars(value: object) -> int:
    """Characters of ``value`` as JSON (tool definitions are part of the prompt)."""
    try:
        return len(orjson.dumps(value))
    except TypeError:
        return 0
