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
from adaptive_router.needs import estimate_needs, tier_facts
from adaptive_router.rules import (
    ComplexityRule,
    LiveThreshold,
    RoutingContext,
    Rule,
    SessionRule,
    TierFacts,
    default_rules,
)
from adaptive_router.scoring import ComplexityScorer
from adaptive_router.scoring.text import Prompt, prompt_text
from adaptive_router.sessions import SessionStore, conversation_key
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
_PINNING_RULES = frozenset({ComplexityRule.name, DEFAULT_RULE})


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
    threshold: float | None = None  # the complexity threshold in force
    prompt_tokens: int | None = None  # the estimate the context rule used
    max_tokens: Mapping[Tier, int] = field(default_factory=dict)  # per tier (0 = none sent)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict of the decision."""
        return {
            "tier": self.tier,
            "rule": self.rule,
            "reason": self.reason,
            "score": self.score,
            "threshold": self.threshold,
            "prompt_tokens": self.prompt_tokens,
            "max_tokens": dict(self.max_tokens),
            "breakdown": dict(self.breakdown),
            "signals": dict(self.signals),
        }


@dataclass(frozen=True, slots=True)
class RouterState:
    """What the router sees now: the one read-only view its consumers (proxy, metrics,
    status page, CLI) use. ``engines`` is empty when the tiers' engines are not polled;
    ``tiers`` is what each tier can take (config first, then its engine); ``threshold`` the
    complexity threshold in force; ``sessions`` how many sessions are remembered.
    """

    config: RoutingConfig
    gpu: VRAMSnapshot
    latency: Mapping[Tier, TierLatency]
    engines: Mapping[Tier, TierLoad]
    tiers: Mapping[Tier, TierFacts]
    threshold: float
    sessions: int


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
        self._engine_view: tuple[object, Mapping[Tier, TierLoad], Mapping[Tier, TierFacts]] = (
            None, {}, tier_facts(cfg, {})
        )  # fmt: skip
        self._threshold = LiveThreshold(
            cfg.target_high_share, cfg.share_window, cfg.complexity_threshold
        )
        self._sessions = SessionStore(cfg.session_max, cfg.session_ttl_s, clock=clock)
        self._monitor.start()
        if self._engines is not None:
            self._engines.start()

    def route(self, prompt: Prompt, *, tier: str | None = None) -> Tier:
        """The tier for ``prompt`` (a string or an OpenAI ``messages`` list).

        ``tier`` ("low"/"high"/"tier_low"/"tier_high") forces a tier via the override rule.
        """
        return self.explain(prompt, tier=tier).tier

    def explain(
        self,
        prompt: Prompt,
        *,
        tier: str | None = None,
        session: str | None = None,
        max_tokens: int | Mapping[Tier, int] | None = None,
        max_tokens_is_default: bool = False,
        tools: object = None,
    ) -> Decision:
        """The full :class:`Decision` for ``prompt``: tier, rule, reason, score, signals.

        ``session`` names the conversation (session affinity); ``max_tokens`` is what the
        request will be allowed to generate, on both tiers or per tier (the context rule adds
        it to the prompt); ``max_tokens_is_default`` says it is the tiers' default, not the
        client's ask, so it may be lowered to fit a context window (``Decision.max_tokens``
        is then what to send); ``tools`` is the request's ``tools`` list, if any. Raises
        :class:`~adaptive_router.errors.BadRequest` when no tier can take the request.
        """
        text = prompt_text(prompt)
        score = self.scorer.score(text)
        engines, tiers = self._engine_loads()
        key = session if session is not None else self._conversation(prompt)
        pinned = self._sessions.get(key) if key is not None else None
        threshold = self._threshold.value()
        needs = estimate_needs(
            prompt, self.config, max_tokens=max_tokens, tools=tools, flexible=max_tokens_is_default
        )
        gpu, latency = self._monitor.snapshot(), self._latency.snapshot()
        ctx = RoutingContext(
            text=text,
            score=score,
            requested_tier=None if tier is None else parse_tier(tier),
            vram=gpu,
            latency=latency,
            now=self._clock(),
            config=self.config,
            engines=engines,
            needs=needs,
            tiers=tiers,
            session_tier=pinned,
            threshold=threshold,
        )
        rule_name, chosen, reason = DEFAULT_RULE, self.config.default_tier, ""
        for rule in self.rules:
            verdict = rule(ctx)
            if verdict is not None:
                rule_name, chosen, reason = rule.name, verdict.tier, verdict.reason
                break
        else:
            reason = f"no rule objected: {chosen} (score {score.total:.2f})"
        if rule_name == ComplexityRule.name:
            self._threshold.observe(score.total)
        first = pinned is None and rule_name in _PINNING_RULES
        if key is not None and chosen != pinned and (first or rule_name == SessionRule.name):
            self._sessions.pin(key, chosen)
        signals = _signals(gpu, latency, engines)
        limits = needs.output_limits({t: f.context_tokens for t, f in tiers.items()})
        return Decision(
            chosen, rule_name, reason, score.total, score.breakdown, signals, threshold,
            needs.prompt_tokens, limits,
        )  # fmt: skip

    def _conversation(self, prompt: Prompt) -> str | None:
        return conversation_key(prompt) if self.config.session_from_conversation else None

    def state(self) -> RouterState:
        """A frozen view of the config in force and every live signal, read now."""
        engines, tiers = self._engine_loads()
        return RouterState(
            self.config,
            self._monitor.snapshot(),
            self._latency.snapshot(),
            engines,
            tiers,
            self._threshold.value(),
            len(self._sessions),
        )

    def refresh(self) -> RouterState:
        """Take fresh readings now, without waiting for the pollers (one-shot commands)."""
        if self._gpu_watched:
            self._monitor.poll()
        if self._engines is not None:
            self._engines.poll()
        return self.state()

    def _engine_loads(self) -> tuple[Mapping[Tier, TierLoad], Mapping[Tier, TierFacts]]:
        """Each polled tier's engine load, folded over its upstreams (empty if not polled),
        and what each tier can take."""
        if self._engines is None:
            return self._engine_view[1:]
        snapshot = self._engines.snapshot()
        if snapshot is not self._engine_view[0]:  # a new polling round: fold it once
            by_tier: dict[Tier, list[UpstreamLoad]] = {}
            for url, load in snapshot.items():
                by_tier.setdefault(self._tier_of[url], []).append(load)
            loads = {tier: summarise(items) for tier, items in by_tier.items()}
            self._engine_view = (snapshot, loads, tier_facts(self.config, loads))
        return self._engine_view[1:]

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


def _signals(
    gpu: VRAMSnapshot, latency: Mapping[Tier, TierLatency], engines: Mapping[Tier, TierLoad]
) -> dict[str, float | bool | None]:
    """The signal values a decision reports (None = unknown)."""
    signals: dict[str, float | bool | None] = {
        "vram_available": gpu.available,
        "vram_free_gb_min": gpu.min_free_gb,
        "gpu_util_pct_max": gpu.max_util_pct,
        "tier_low_ttft_ema_ms": latency[TIER_LOW].ttft_ms,
        "tier_high_ttft_ema_ms": latency[TIER_HIGH].ttft_ms,
    }
    for tier, load in engines.items():
        signals[f"{tier}_healthy"] = load.healthy
        signals[f"{tier}_waiting"] = load.waiting
        signals[f"{tier}_kv_usage"] = load.kv_usage
    return signals
