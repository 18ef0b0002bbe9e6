"""AdaptiveRouter: score the prompt, read the live signals, ask the rules, explain.

>>> from adaptive_router import AdaptiveRouter, RoutingConfig
>>> with AdaptiveRouter(RoutingConfig(vram_poll_interval_ms=0)) as router:
...     router.route("What time is it in Tokyo?")
'tier_low'
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

from adaptive_router.config import RoutingConfig
from adaptive_router.rules import RoutingContext, Rule, default_rules
from adaptive_router.scoring import ComplexityScorer
from adaptive_router.scoring.text import Prompt, prompt_text
from adaptive_router.signals import LatencyTracker, VRAMMonitor
from adaptive_router.tiers import TIER_HIGH, TIER_LOW, Tier, parse_tier

DEFAULT_RULE = "default"


@dataclass(frozen=True, slots=True)
class Decision:
    """The whole routing decision for one request.

    ``rule`` names the rule that decided (``"default"`` when every rule abstained);
    ``signals`` holds the live values the rules saw (None = unknown).
    """

    tier: Tier
    rule: str
    reason: str
    score: float
    breakdown: Mapping[str, float]
    signals: Mapping[str, float | bool | None] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict of the decision."""
        return {
            "tier": self.tier,
            "rule": self.rule,
            "reason": self.reason,
            "score": self.score,
            "breakdown": dict(self.breakdown),
            "signals": dict(self.signals),
        }


class AdaptiveRouter:
    """Routes each prompt to ``"tier_low"`` or ``"tier_high"``.

    Starts its GPU monitor thread on construction (not on import); use it as a context
    manager or call :meth:`close` to stop it. ``rules`` replaces the default chain
    (see :func:`adaptive_router.rules.default_rules`); ``monitor`` and ``clock`` are
    injectable for tests.

        >>> router = AdaptiveRouter(RoutingConfig(complexity_threshold=0.65))
        >>> router.route("Prove the Riemann hypothesis step by step")
        'tier_high'
        >>> router.close()
    """

    def __init__(
        self,
        config: RoutingConfig | None = None,
        *,
        scorer: ComplexityScorer | None = None,
        rules: Sequence[Rule] | None = None,
        monitor: VRAMMonitor | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.config = config or RoutingConfig()
        cfg = self.config
        self.scorer = scorer or ComplexityScorer()
        self.rules: tuple[Rule, ...] = tuple(default_rules() if rules is None else rules)
        self.latency = LatencyTracker(
            alpha=cfg.latency_ema_alpha,
            seed_ms=cfg.sla_warmup_seed_ms,
            half_life_s=cfg.sla_decay_half_life_s,
            clock=clock,
        )
        self.monitor = monitor or VRAMMonitor(
            cfg.vram_poll_interval_ms, cfg.gpu_indices, clock=clock
        )
        self._clock = clock
        self.monitor.start()

    def route(self, prompt: Prompt, *, tier: str | None = None) -> Tier:
        """The tier for ``prompt`` (a string or an OpenAI ``messages`` list).

        ``tier`` ("low"/"high"/"tier_low"/"tier_high") forces a tier via the override rule.
        """
        return self.explain(prompt, tier=tier).tier

    def explain(self, prompt: Prompt, *, tier: str | None = None) -> Decision:
        """The full :class:`Decision` for ``prompt``: tier, rule, reason, score, signals."""
        text = prompt_text(prompt)
        score = self.scorer.score(text)
        latency = self.latency.snapshot()
        ctx = RoutingContext(
            text=text,
            score=score,
            requested_tier=None if tier is None else parse_tier(tier),
            vram=self.monitor.snapshot,
            latency=latency,
            now=self._clock(),
            config=self.config,
        )
        signals: dict[str, float | bool | None] = {
            "vram_available": ctx.vram.available,
            "vram_free_gb_min": ctx.vram.min_free_gb,
            "gpu_util_pct_max": ctx.vram.max_util_pct,
            "tier_low_ttft_ema_ms": latency[TIER_LOW].ttft_ms,
            "tier_high_ttft_ema_ms": latency[TIER_HIGH].ttft_ms,
        }
        for rule in self.rules:
            verdict = rule(ctx)
            if verdict is not None:
                return Decision(
                    verdict.tier, rule.name, verdict.reason, score.total, score.breakdown, signals
                )
        default = self.config.default_tier
        reason = f"no rule objected: {default} (score {score.total:.2f})"
        return Decision(default, DEFAULT_RULE, reason, score.total, score.breakdown, signals)

    def observe(self, tier: str, ttft_ms: float | None, total_ms: float | None = None) -> None:
        """Feed back one request's time to first token (and total time) in milliseconds.

        Thread-safe. The SLA rule compares tier_high's TTFT moving average to
        ``latency_sla_ms``. ``ttft_ms=None`` records only the total time (unstreamed answers).
        """
        self.latency.observe(parse_tier(tier), ttft_ms, total_ms)

    def close(self) -> None:
        """Stop the GPU monitor thread. Safe to call twice."""
        self.monitor.close()

    def __enter__(self) -> AdaptiveRouter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
