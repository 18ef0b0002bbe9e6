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
from typing import Any

from adaptive_router.config import RoutingConfig
from adaptive_router.rules import RoutingContext, Rule, default_rules
from adaptive_router.scoring import ComplexityScorer
from adaptive_router.scoring.text import Prompt, prompt_text
from adaptive_router.signals import (
    EngineMonitor,
    LatencyTracker,
    TierLatency,
    TierLoad,
    UpstreamLoad,
    VRAMMonitor,
    VRAMSnapshot,
    summarise,
)
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


@dataclass(frozen=True, slots=True)
class RouterState:
    """What the router sees now: the one read-only view its consumers (proxy, metrics,
    status page, CLI) use. ``engines`` is empty when the tiers' engines are not polled.
    """

    config: RoutingConfig
    gpu: VRAMSnapshot
    latency: Mapping[Tier, TierLatency]
    engines: Mapping[Tier, TierLoad]


class AdaptiveRouter:
    """Routes each prompt to ``"tier_low"`` or ``"tier_high"``.

    Starts its GPU monitor thread on construction (not on import), and, given the tiers'
    ``upstreams`` (OpenAI base URLs), a thread polling their engines' /health and /metrics;
    use it as a context manager or call :meth:`close` to stop them. ``rules`` replaces the
    default chain (see :func:`adaptive_router.rules.default_rules`); ``monitor``,
    ``engine_monitor`` and ``clock`` are injectable for tests. :meth:`state` is the view of
    everything it knows.

        >>> router = AdaptiveRouter(RoutingConfig(complexity_threshold=0.65))
        >>> router.route("Prove the Riemann hypothesis step by step")
        'tier_high'
        >>> router.state().config.complexity_threshold
        0.65
        >>> router.close()
    """

    def __init__(
        self,
        config: RoutingConfig | None = None,
        *,
        scorer: ComplexityScorer | None = None,
        rules: Sequence[Rule] | None = None,
        monitor: VRAMMonitor | None = None,
        upstreams: Mapping[Tier, Sequence[str]] | None = None,
        engine_monitor: EngineMonitor | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.config = cfg = config or RoutingConfig()
        self.scorer = scorer or ComplexityScorer()
        self.rules: tuple[Rule, ...] = tuple(default_rules() if rules is None else rules)
        self._latency = LatencyTracker(
            alpha=cfg.latency_ema_alpha,
            seed_ms=cfg.sla_warmup_seed_ms,
            half_life_s=cfg.sla_decay_half_life_s,
            clock=clock,
        )
        self._gpu_watched = monitor is not None or cfg.vram_poll_interval_ms > 0
        self._monitor = monitor or VRAMMonitor(
            cfg.vram_poll_interval_ms / 1000.0, cfg.gpu_indices, clock=clock
        )
        self._clock = clock
        self._tier_of = {url: tier for tier, urls in (upstreams or {}).items() for url in urls}
        self._engines = engine_monitor
        if self._engines is None and self._tier_of and cfg.engine_poll_interval_ms > 0:
            self._engines = EngineMonitor(
                list(self._tier_of),
                cfg.engine_poll_interval_ms / 1000.0,
                engine=cfg.engine_kind,
                clock=clock,
            )
        self._engine_view: tuple[object, Mapping[Tier, TierLoad]] = (None, {})
        self._monitor.start()
        if self._engines is not None:
            self._engines.start()

    def route(self, prompt: Prompt, *, tier: str | None = None) -> Tier:
        """The tier for ``prompt`` (a string or an OpenAI ``messages`` list).

        ``tier`` ("low"/"high"/"tier_low"/"tier_high") forces a tier via the override rule.
        """
        return self.explain(prompt, tier=tier).tier

    def explain(self, prompt: Prompt, *, tier: str | None = None) -> Decision:
        """The full :class:`Decision` for ``prompt``: tier, rule, reason, score, signals."""
        text = prompt_text(prompt)
        score = self.scorer.score(text)
        state = self.state()
        ctx = RoutingContext(
            text=text,
            score=score,
            requested_tier=None if tier is None else parse_tier(tier),
            vram=state.gpu,
            latency=state.latency,
            now=self._clock(),
            config=self.config,
            engines=state.engines,
        )
        signals = _signals(state)
        for rule in self.rules:
            verdict = rule(ctx)
            if verdict is not None:
                return Decision(
                    verdict.tier, rule.name, verdict.reason, score.total, score.breakdown, signals
                )
        default = self.config.default_tier
        reason = f"no rule objected: {default} (score {score.total:.2f})"
        return Decision(default, DEFAULT_RULE, reason, score.total, score.breakdown, signals)

    def state(self) -> RouterState:
        """A frozen view of the config in force and every live signal, read now."""
        return RouterState(
            self.config, self._monitor.snapshot(), self._latency.snapshot(), self._engine_loads()
        )

    def refresh(self) -> RouterState:
        """Take fresh readings now, without waiting for the pollers (one-shot commands)."""
        if self._gpu_watched:
            self._monitor.poll()
        if self._engines is not None:
            self._engines.poll()
        return self.state()

    def _engine_loads(self) -> Mapping[Tier, TierLoad]:
        """Each polled tier's engine load, folded over its upstreams (empty if not polled)."""
        if self._engines is None:
            return {}
        snapshot = self._engines.snapshot()
        cached_for, loads = self._engine_view
        if snapshot is not cached_for:  # a new polling round: fold it once, not per request
            by_tier: dict[Tier, list[UpstreamLoad]] = {}
            for url, load in snapshot.items():
                by_tier.setdefault(self._tier_of[url], []).append(load)
            loads = {tier: summarise(items) for tier, items in by_tier.items()}
            self._engine_view = (snapshot, loads)
        return loads

    def observe(self, tier: str, ttft_ms: float | None, total_ms: float | None = None) -> None:
        """Feed back one request's time to first token (and total time) in milliseconds.

        Thread-safe. The SLA rule compares tier_high's TTFT moving average to
        ``latency_sla_ms``. ``ttft_ms=None`` records only the total time (unstreamed answers).
        """
        self._latency.observe(parse_tier(tier), ttft_ms, total_ms)

    def close(self) -> None:
        """Stop the GPU and engine monitor threads. Safe to call twice."""
        self._monitor.close()
        if self._engines is not None:
            self._engines.close()

    def __enter__(self) -> AdaptiveRouter:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _signals(state: RouterState) -> dict[str, float | bool | None]:
    """The signal values a decision reports (None = unknown)."""
    gpu, latency = state.gpu, state.latency
    signals: dict[str, float | bool | None] = {
        "vram_available": gpu.available,
        "vram_free_gb_min": gpu.min_free_gb,
        "gpu_util_pct_max": gpu.max_util_pct,
        "tier_low_ttft_ema_ms": latency[TIER_LOW].ttft_ms,
        "tier_high_ttft_ema_ms": latency[TIER_HIGH].ttft_ms,
    }
    for tier, load in state.engines.items():
        signals[f"{tier}_healthy"] = load.healthy
        signals[f"{tier}_waiting"] = load.waiting
        signals[f"{tier}_kv_usage"] = load.kv_usage
    return signals
