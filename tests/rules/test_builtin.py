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
    HealthRule,
    OverrideRule,
    RoutingContext,
    SaturationRule,
    SLARule,
    VRAMRule,
    default_rules,
)
from adaptive_router.signals import EngineMonitor, GPUReading, TierLatency, TierLoad
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
    engines: dict[str, TierLoad] | None = None,
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
        engines=engines or {},  # type: ignore[arg-type]
    )


def load(
    healthy: bool | None = True,
    waiting: float | None = 0.0,
    kv: float | None = 0.1,
    age_s: float = 0.0,
) -> TierLoad:
    return TierLoad(healthy, 1.0, waiting, kv, None, None, 1, NOW - age_s)


def test_default_chain_order() -> None:
    names = [rule.name for rule in default_rules()]
    assert names == [
        "override", "health", "capability", "context",  # hard constraints
        "vram", "gpu_util", "saturation", "sla",  # protection of a struggling tier
        "session", "complexity",  # then the conversation, then the prompt
    ]  # fmt: skip


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
    at = ComplexityRule()(ctx(score=0.65))  # at the threshold: high, and says so
    assert at is not None
    assert (at.tier, at.reason) == ("tier_high", "score 0.65 >= threshold 0.65")
    above = ComplexityRule()(ctx(score=0.5, complexity_threshold=0.4))
    assert above is not None
    assert above.tier == "tier_high"


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


def test_health_rule_sends_traffic_away_from_a_failing_tier() -> None:
    rule = HealthRule()
    down_high = rule(ctx(engines={"tier_high": load(False), "tier_low": load(True)}))
    assert down_high is not None
    assert (down_high.tier, down_high.reason) == ("tier_low", "tier_high engine failing /health")
    down_low = rule(ctx(score=0.0, engines={"tier_high": load(True), "tier_low": load(False)}))
    assert down_low is not None
    assert down_low.tier == "tier_high"
    assert rule(ctx(engines={"tier_high": load(False), "tier_low": load(False)})) is None
    assert rule(ctx(engines={"tier_high": load(True), "tier_low": load(True)})) is None
    assert rule(ctx(engines={"tier_high": load(False, age_s=60)})) is None  # stale
    assert rule(ctx(engines={"tier_high": load(None)})) is None  # unknown
    assert rule(ctx()) is None  # not polled


def test_saturation_rule_watches_tier_high_queue_and_kv_cache() -> None:
    rule = SaturationRule()
    queued = rule(ctx(engines={"tier_high": load(waiting=3)}))
    assert queued is not None
    assert queued.tier == "tier_low"
    assert "3 waiting > 2" in queued.reason
    full = rule(ctx(engines={"tier_high": load(kv=0.99)}))
    assert full is not None
    assert "KV cache 99% > 95%" in full.reason
    assert rule(ctx(engines={"tier_high": load(waiting=2, kv=0.95)})) is None
    assert rule(ctx(engines={"tier_high": load(waiting=9, kv=None)}, high_max_waiting=10)) is None
    assert rule(ctx(engines={"tier_high": load(waiting=None, kv=None)})) is None
    assert rule(ctx(engines={"tier_high": load(waiting=50, age_s=60)})) is None  # stale
    assert rule(ctx(engines={"tier_low": load(waiting=50)})) is None  # only tier_high


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
    assert [v and v.tier for v in verdicts] == ["tier_low"] * 50


# -- the same rules in the default chain, through the router ----------------------------


def test_chain_complexity_sends_easy_prompts_low(make_router: Factory) -> None:
    router = make_router(scorer=FixedScorer(0.1))
    decision = router.explain("anything")
    assert (decision.tier, decision.rule) == ("tier_low", "complexity")


def test_chain_hard_prompt_with_resources_goes_high(make_router: Factory) -> None:
    decision = make_router(scorer=FixedScorer(0.9)).explain("anything")
    assert (decision.tier, decision.rule) == ("tier_high", "complexity")


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
    assert router.explain("anything").rule == "complexity"


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


VLLM_BUSY = b"""# TYPE vllm:num_requests_running gauge
vllm:num_requests_running{model_name="big"} 8.0
# TYPE vllm:num_requests_waiting gauge
vllm:num_requests_waiting{model_name="big"} 5.0
# TYPE vllm:kv_cache_usage_perc gauge
vllm:kv_cache_usage_perc{model_name="big"} 0.5
"""


def engine_monitor(pages: dict[str, tuple[int, bytes]], clock: Clock) -> EngineMonitor:
    """An engine monitor reading canned pages (no network): url -> (status, body)."""

    def fetch(url: str, timeout: float) -> tuple[int, bytes]:
        if url not in pages:
            raise OSError("connection refused")
        return pages[url]

    urls = ["http://low:1/v1", "http://high:2/v1"]
    return EngineMonitor(urls, interval_s=0, fetch=fetch, clock=clock)


def test_chain_saturation_from_real_vllm_metrics(make_router: Factory, clock: Clock) -> None:
    pages = {
        "http://high:2/health": (200, b""),
        "http://high:2/metrics": (200, VLLM_BUSY),
        "http://low:1/health": (200, b""),
    }
    monitor = engine_monitor(pages, clock)
    upstreams = {"tier_low": ["http://low:1/v1"], "tier_high": ["http://high:2/v1"]}
    router = make_router(scorer=FixedScorer(0.9), engine_monitor=monitor, upstreams=upstreams)
    monitor.poll()
    decision = router.explain("hard")
    assert (decision.tier, decision.rule) == ("tier_low", "saturation")
    assert decision.signals["tier_high_waiting"] == 5.0


def test_chain_health(make_router: Factory, clock: Clock) -> None:
    pages = {"http://high:2/health": (200, b""), "http://high:2/metrics": (404, b"")}
    monitor = engine_monitor(pages, clock)  # tier_low refuses connections
    upstreams = {"tier_low": ["http://low:1/v1"], "tier_high": ["http://high:2/v1"]}
    router = make_router(scorer=FixedScorer(0.1), engine_monitor=monitor, upstreams=upstreams)
    monitor.poll()
    decision = router.explain("easy")
    assert (decision.tier, decision.rule) == ("tier_high", "health")
    assert decision.signals["tier_low_healthy"] is False
