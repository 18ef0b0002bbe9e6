"""The default rule chain, in the order of one principle:

1. hard constraints: ``override`` -> ``health`` -> ``capability`` -> ``context``;
2. protection of a struggling tier: ``vram`` -> ``gpu_util`` -> ``saturation`` -> ``sla``;
3. ``session``: a conversation stays on its tier;
4. ``complexity``: the prompt's score against the threshold in force, both ways;
5. ``default``: only when every rule abstained (a chain without the complexity rule).

Each rule has one job and explains itself. They read their thresholds from
``ctx.config``, so one chain serves any config. The GPU rules abstain on unknown or stale
readings rather than guess; the SLA rule keeps probing tier_high while it diverts, so a
recovered tier_high gets traffic back.
"""

from __future__ import annotations

import threading

from adaptive_router.rules.base import RoutingContext, Rule, Verdict
from adaptive_router.rules.fit import CapabilityRule, ContextRule
from adaptive_router.rules.session import SessionRule
from adaptive_router.signals import TierLoad
from adaptive_router.tiers import TIER_HIGH, TIER_LOW, Tier, other_tier


class OverrideRule:
    """An explicitly requested tier (model alias, header, ``tier=``) wins."""

    name = "override"

    def __call__(self, ctx: RoutingContext) -> Verdict | None:
        if ctx.requested_tier is None:
            return None
        return Verdict(ctx.requested_tier, f"{ctx.requested_tier} requested explicitly")


def _fresh_engine(ctx: RoutingContext, tier: Tier) -> TierLoad | None:
    load = ctx.engines.get(tier)
    if load is None or load.newest_taken_at is None:
        return None
    if (ctx.now - load.newest_taken_at) * 1000.0 > ctx.config.engine_stale_ms:
        return None
    return load


class HealthRule:
    """A tier whose engines all fail their /health sends every request to the other tier."""

    name = "health"

    def __call__(self, ctx: RoutingContext) -> Verdict | None:
        for tier in (TIER_HIGH, TIER_LOW):
            load = _fresh_engine(ctx, tier)
            other = _fresh_engine(ctx, other_tier(tier))
            if load is not None and load.healthy is False:
                if other is not None and other.healthy is False:
                    return None  # both down: let the proxy try and report
                return Verdict(other_tier(tier), f"{tier} engine failing /health")
        return None


class ComplexityRule:
    """A prompt scoring below the threshold in force goes to tier_low, any other to tier_high.

    The threshold is ``complexity_threshold``, or the live one that gives tier_high
    ``target_high_share`` of these requests (see :mod:`adaptive_router.rules.share`).
    """

    name = "complexity"

    def __call__(self, ctx: RoutingContext) -> Verdict | None:
        threshold = ctx.threshold_in_force()
        kind = "live threshold" if ctx.config.target_high_share > 0 else "threshold"
        score = ctx.score.total
        if score < threshold:
            return Verdict(TIER_LOW, f"score {score:.2f} < {kind} {threshold:.2f}")
        return Verdict(TIER_HIGH, f"score {score:.2f} >= {kind} {threshold:.2f}")


def _fresh_gpu_data(ctx: RoutingContext) -> bool:
    vram = ctx.vram
    age_ms = (ctx.now - vram.taken_at) * 1000.0
    return vram.available and bool(vram.gpus) and age_ms <= ctx.config.vram_stale_ms


class VRAMRule:
    """Less free GPU memory than ``vram_headroom_gb`` sends work to tier_low."""

    name = "vram"

    def __call__(self, ctx: RoutingContext) -> Verdict | None:
        free = ctx.vram.min_free_gb
        headroom = ctx.config.vram_headroom_gb
        if free is None or not _fresh_gpu_data(ctx) or free >= headroom:
            return None
        return Verdict(TIER_LOW, f"free VRAM {free:.2f} GB < headroom {headroom:.2f} GB")


class GPUUtilRule:
    """A GPU busier than ``gpu_util_circuit_pct`` trips the circuit to tier_low."""

    name = "gpu_util"

    def __call__(self, ctx: RoutingContext) -> Verdict | None:
        util = ctx.vram.max_util_pct
        limit = ctx.config.gpu_util_circuit_pct
        if util is None or not _fresh_gpu_data(ctx) or util <= limit:
            return None
        return Verdict(TIER_LOW, f"GPU utilisation {util:.0f}% > circuit {limit:.0f}%")


class SaturationRule:
    """tier_high with a long queue or a nearly full KV cache sends work to tier_low.

    Engines such as vLLM reserve most GPU memory up front, so free VRAM barely moves; the
    engine's own queue and KV-cache usage are the better signal that tier_high is full.
    """

    name = "saturation"

    def __call__(self, ctx: RoutingContext) -> Verdict | None:
        load = _fresh_engine(ctx, TIER_HIGH)
        if load is None:
            return None
        config = ctx.config
        if load.waiting is not None and load.waiting > config.high_max_waiting:
            return Verdict(
                TIER_LOW,
                f"tier_high saturated: {load.waiting:g} waiting > {config.high_max_waiting:g}",
            )
        if load.kv_usage is not None and load.kv_usage > config.high_max_kv_usage:
            return Verdict(
                TIER_LOW,
                f"tier_high saturated: KV cache {load.kv_usage:.0%} > "
                f"{config.high_max_kv_usage:.0%}",
            )
        return None


class SLARule:
    """tier_high slower than ``latency_sla_ms`` (TTFT EMA) diverts to tier_low.

    While diverting, one in every ``1 / sla_probe_share`` qualifying requests still goes to
    tier_high, so its TTFT estimate keeps being measured and the rule lets go once it is
    fast again.
    """

    name = "sla"

    def __init__(self) -> None:
        self._diverted = 0
        self._lock = threading.Lock()

    def __call__(self, ctx: RoutingContext) -> Verdict | None:
        ema = ctx.latency[TIER_HIGH].ttft_ms
        sla = ctx.config.latency_sla_ms
        if ema is None or ema <= sla:
            return None
        slow = f"tier_high TTFT {ema:.0f} ms > SLA {sla:.0f} ms"
        if self._probe_due(ctx.config.sla_probe_share):
            return Verdict(TIER_HIGH, f"probe: {slow}; re-measuring tier_high")
        return Verdict(TIER_LOW, slow)

    def _probe_due(self, share: float) -> bool:
        if share <= 0:
            return False
        every = max(1, round(1.0 / share))
        with self._lock:
            self._diverted += 1
            if self._diverted >= every:
                self._diverted = 0
                return True
        return False


def default_rules() -> list[Rule]:
    """A fresh default chain (rules carry state, so each router gets its own)."""
    return [
        OverrideRule(),
        HealthRule(),
        CapabilityRule(),
        ContextRule(),
        VRAMRule(),
        GPUUtilRule(),
        SaturationRule(),
        SLARule(),
        SessionRule(),
        ComplexityRule(),
    ]
