"""How long an answer may be on each tier: a default when the client asks for none, a cap
when it asks for more.

Clients such as OpenWebUI send no ``max_tokens``, and an engine then generates until the
context window is full (minutes on a big model). Each tier has ``max_tokens`` (sent when the
client asks for nothing; 0 = send none) and ``max_tokens_cap`` (the most a client may ask
for; 0 = no cap). The routing decision (the context rule) and the body sent upstream use the
same number for the tier that actually answers (failover may change it): the router's
``Decision.max_tokens``, which is :func:`max_tokens_for` except that a default the client did
not ask for is lowered to the room a tier's context window leaves after the prompt.

``max_completion_tokens`` is OpenAI's newer name for ``max_tokens``: a client's limit is
``max_completion_tokens`` when it sent that name (llama-server and vLLM let it win over
``max_tokens``), the cap applies to each name it used, and a default is sent as
``max_tokens``, the name llama.cpp, vLLM and SGLang all read.

    >>> from adaptive_router.proxy.config import TierConfig
    >>> tier = TierConfig(max_tokens=512, max_tokens_cap=1024)
    >>> max_tokens_for(None, tier), max_tokens_for(100, tier), max_tokens_for(4000, tier)
    (512, 100, 1024)
    >>> with_max_tokens({"max_completion_tokens": 4000}, 4000, max_tokens_for(4000, tier))
    {'max_completion_tokens': 1024}
"""

from __future__ import annotations

from typing import Any, Protocol

MAX_TOKENS_NAMES = ("max_tokens", "max_completion_tokens")  # the later wins when both are sent


class Limits(Protocol):
    """A tier's answer-length settings (``TierConfig`` has them)."""

    @property
    def max_tokens(self) -> int: ...

    @property
    def max_tokens_cap(self) -> int: ...


def max_tokens_for(asked: int | None, tier: Limits) -> int:
    """The answer length a request gets on ``tier`` before routing (0 = none sent)."""
    if asked is None:
        return tier.max_tokens
    return min(asked, tier.max_tokens_cap) if tier.max_tokens_cap else asked


def with_max_tokens(payload: dict[str, Any], asked: int | None, limit: int) -> dict[str, Any]:
    """``payload`` (changed in place and returned) with ``limit`` applied: sent as
    ``max_tokens`` when the client asked for none, else lowering each name it used."""
    if asked is None:
        if limit:
            payload["max_tokens"] = limit
        return payload
    for name in MAX_TOKENS_NAMES:
        value = payload.get(name)
        if isinstance(value, int) and value > limit:
            payload[name] = limit
    return payload
