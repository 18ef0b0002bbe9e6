"""Each built-in rule, alone and in the default chain.

The chain tests go through AdaptiveRouter with the default rules, so each fails if its
rule is dropped from ``default_rules()`` (the original's tests passed with rules disabled).
"""

from collections.abc import Callable

import pytest

from adaptive_router import AdaptiveRouter, RoutingConfig, Score, VRAMSnapshot
from adaptive_router.rules import (
    ComplexityRule,
    GPUUtilRule,
    OverrideRule,
    RoutingContext,
    SLARule,
    VRAMRule,
    default_rules,
)
from adaptive_router.signals import GPUReading, TierLatency
from tests.conftest import Clock, FakeNVML, FixedScorer

Factory = Callable[..., AdaptiveRouter]
NOW = 1000.0


def ctx(
    *,
    score: float = 0.9,
    requested: str | None = None,
    free_gb: float | None = 10.0,
    util: float = 10.0,
    age_s: float = 0.0,
    high_ttft: float | None = None,
    **config: float,
) -> RoutingContext:
    vram = (
        VRAMSnapshot(True, (GPUReading(0, 16.0, 16.0 - free_gb, free_gb, util),), NOW - age_s)
        if free_gb is not None
        else VRAMSnapshot(False, error="no NVML")
    )
    return RoutingContext(
        text="x",
        score=Score(score, {}),
        requested_tier=requested,  # type: ignore[arg-type]
        vram=vram,
        latency={
            "tier_low": TierLatency(None, None, 0),
            "tier_high": TierLatency(high_ttft, None, 1),
        },
        now=NOW,
        config=RoutingConfig(**config),
    )


def test_default_chain_order() -> None:
    names = [rule.name for rule in default_rules()]
    assert names == ["override", "complexity", "vram", "gpu_util", "sla"]


def test_override_rule() -> None:
    assert OverrideRule()(ctx()) is None
    verdict = OverrideRule()(ctx(requested="tier_low"))
    assert verdict is not None
    assert verdict.tier == "tier_low"


def test_complexity_rule() -> None:
    verdict = ComplexityRule()(ctx(score=0.2))
    assert verdict is not None
    assert verdict.tier == "tier_low"
    assert "0.20 < threshold 0.65" in verdict.reason
    assert ComplexityRule()(ctx(score=0.65)) is None
    assert ComplexityRule()(ctx(score=0.5, complexity_threshold=0.4)) is None


def test_vram_rule() -> None:
    verdict = VRAMRule()(ctx(free_gb=1.0))
    assert verdict is not None
    assert verdict.tier == "tier_low"
    assert "1.00 GB < headroom 1.50 GB" in verdict.reason
    assert VRAMRule()(ctx(free_gb=2.0)) is None
    assert VRAMRule()(ctx(free_gb=2.0, vram_headroom_gb=3.0)) is not None


def test_vram_rule_abstains_on_unknown_or_stale_data() -> None:
    assert VRAMRule()(ctx(free_gb=None)) is None
    assert VRAMRule()(ctx(free_gb=0.1, age_s=5.0)) is None  # stale: 5 s > 1 s
    assert VRAMRule()(ctx(free_gb=0.1, age_s=5.0, vram_stale_ms=10_000)) is not None


def test_gpu_util_rule() -> None:
    verdict = GPUUtilRule()(ctx(util=97.0))
    assert verdict is not None
    assert verdict.tier == "tier_low"
    assert GPUUtilRule()(ctx(util=90.0)) is None
    assert GPUUtilRule()(ctx(util=97.0, age_s=5.0)) is None
    assert GPUUtilRule()(ctx(free_gb=None)) is None


def test_sla_rule_diverts_and_probes_one_in_n() -> None:
    rule = SLARule()
    assert rule(ctx(high_ttft=1500.0)) is None
    assert rule(ctx(high_ttft=None)) is None
    tiers = [rule(ctx(high_ttft=2500.0, sla_probe_share=0.1)) for _ in range(100)]
    assert all(v is not None for v in tiers)
    probes = [v for v in tiers if v is not None and v.tier == "tier_high"]
    assert len(probes) == 10
    assert all(v.reason.startswith("probe:") for v in probes)


def test_sla_rule_without_probes_always_diverts() -> None:
    rule = SLARule()
    verdicts = [rule(ctx(high_ttft=2500.0, sla_probe_share=0.0)) for _ in range(50)]
    assert {v.tier for v in verdicts if v is not None} == {"tier_low"}


# -- the same rules in the default chain, through the router ----------------------------


def test_chain_complexity_sends_easy_prompts_low(make_router: Factory) -> None:
    router = make_router(scorer=FixedScorer(0.1))
    decision = router.explain("anything")
    assert (decision.tier, decision.rule) == ("tier_low", "complexity")


def test_chain_hard_prompt_with_resources_goes_high(make_router: Factory) -> None:
    decision = make_router(scorer=FixedScorer(0.9)).explain("anything")
    assert (decision.tier, decision.rule) == ("tier_high", "default")


def test_chain_vram(make_router: Factory, fake_nvml: FakeNVML) -> None:
    fake_nvml.gpus[0] = (1.0, 16.0, 10.0)
    decision = make_router(scorer=FixedScorer(0.9)).explain("anything")
    assert (decision.tier, decision.rule) == ("tier_low", "vram")
    assert decision.signals["vram_free_gb_min"] == pytest.approx(1.0)


def test_chain_vram_stale_reading_is_ignored(
    make_router: Factory, fake_nvml: FakeNVML, clock: Clock
) -> None:
    fake_nvml.gpus[0] = (1.0, 16.0, 10.0)
    router = make_router(scorer=FixedScorer(0.9))
    clock.advance(2.0)  # no poll for 2 s: the reading is stale
    assert router.explain("anything").rule == "default"


def test_chain_gpu_util(make_router: Factory, fake_nvml: FakeNVML) -> None:
    fake_nvml.gpus[0] = (10.0, 16.0, 99.0)
    decision = make_router(scorer=FixedScorer(0.9)).explain("anything")
    assert (decision.tier, decision.rule) == ("tier_low", "gpu_util")


def test_chain_sla(make_router: Factory) -> None:
    router = make_router(RoutingConfig(sla_probe_share=0.0), scorer=FixedScorer(0.9))
    router.observe("tier_high", 5000)
    decision = router.explain("anything")
    assert (decision.tier, decision.rule) == ("tier_low", "sla")


def test_chain_override_beats_everything(make_router: Factory, fake_nvml: FakeNVML) -> None:
    fake_nvml.gpus[0] = (0.1, 16.0, 100.0)
    router = make_router(scorer=FixedScorer(0.1))
    decision = router.explain("anything", tier="high")
    assert (decision.tier, decision.rule) == ("tier_high", "override")
