"""The routing-v2 rules (capability, context, session, the live threshold) alone and in the
chain, and the chain's order: hard constraints, protection, session, complexity, default."""

from collections.abc import Callable

import pytest

from adaptive_router import AdaptiveRouter, RoutingConfig, Score, VRAMSnapshot
from adaptive_router.errors import BadRequest
from adaptive_router.rules import (
    CapabilityRule,
    ContextRule,
    LiveThreshold,
    Needs,
    RoutingContext,
    SessionRule,
    TierFacts,
)
from adaptive_router.signals import EngineMonitor, TierLatency
from tests.conftest import Clock, FakeNVML, FixedScorer

Factory = Callable[..., AdaptiveRouter]
IMAGE = {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}
HARD = "Prove the Riemann hypothesis step by step"


def flat(**settings: object) -> RoutingConfig:
    """A config from flat setting names, as a file, the environment or flags give them."""
    return RoutingConfig.from_mapping(settings)


def ctx(
    *,
    score: float = 0.9,
    needs: Needs | None = None,
    tiers: dict[str, TierFacts] | None = None,
    session: str | None = None,
    threshold: float | None = None,
    **config: object,
) -> RoutingContext:
    return RoutingContext(
        text="x",
        score=Score(score, {}),
        requested_tier=None,
        vram=VRAMSnapshot(False, error="no NVML"),
        latency={"tier_low": TierLatency(None, None, 0), "tier_high": TierLatency(None, None, 0)},
        now=0.0,
        config=RoutingConfig(**config),  # type: ignore[arg-type]
        needs=needs or Needs(),
        tiers=tiers or {},  # type: ignore[arg-type]
        session_tier=session,  # type: ignore[arg-type]
        threshold=threshold,
    )


# --- capability ----------------------------------------------------------------------------


def test_capability_abstains_without_images_or_tools() -> None:
    blind = {"tier_low": TierFacts(vision=False, tools=False)}
    assert CapabilityRule()(ctx(tiers=blind)) is None  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("low", "high", "expected"),
    [
        (False, True, "tier_high"),
        (False, None, "tier_high"),  # unknown counts as "may": go where it may work
        (True, False, "tier_low"),
        (None, False, "tier_low"),
        (True, True, None),  # both can: the rest of the chain decides
        (None, None, None),  # nothing known: abstain rather than guess
        (True, None, None),
    ],
)
def test_capability_vision(low: bool | None, high: bool | None, expected: str | None) -> None:
    tiers = {"tier_low": TierFacts(vision=low), "tier_high": TierFacts(vision=high)}
    verdict = CapabilityRule()(ctx(needs=Needs(vision=True), tiers=tiers))  # type: ignore[arg-type]
    assert (verdict.tier if verdict else None) == expected
    if verdict is not None:
        assert verdict.reason.startswith("request has images")


def test_capability_tools_and_images_together() -> None:
    tiers = {
        "tier_low": TierFacts(vision=True, tools=False),
        "tier_high": TierFacts(vision=True, tools=True),
    }
    verdict = CapabilityRule()(ctx(needs=Needs(vision=True, tools=True), tiers=tiers))  # type: ignore[arg-type]
    assert verdict is not None
    assert (verdict.tier, verdict.reason) == (
        "tier_high",
        "request has tools; tier_low cannot take them",
    )


def test_no_tier_can_see_is_a_clear_400() -> None:
    tiers = {"tier_low": TierFacts(vision=False), "tier_high": TierFacts(vision=False)}
    with pytest.raises(BadRequest) as caught:
        CapabilityRule()(ctx(needs=Needs(vision=True), tiers=tiers))  # type: ignore[arg-type]
    error = caught.value
    assert (error.status, error.code, error.param) == (400, "unsupported_capability", "messages")
    assert "tier_low_vision=false; tier_high_vision=false" in error.message


def test_no_tier_takes_tools_names_the_param() -> None:
    tiers = {"tier_low": TierFacts(tools=False), "tier_high": TierFacts(tools=False)}
    with pytest.raises(BadRequest) as caught:
        CapabilityRule()(ctx(needs=Needs(tools=True), tiers=tiers))  # type: ignore[arg-type]
    assert caught.value.param == "tools"


# --- context -------------------------------------------------------------------------------


def windows(low: int | None, high: int | None) -> dict[str, TierFacts]:
    return {"tier_low": TierFacts(context_tokens=low), "tier_high": TierFacts(context_tokens=high)}


def test_context_abstains_when_it_fits_or_nothing_is_known() -> None:
    needs = Needs(prompt_tokens=500, output_tokens={"tier_low": 512, "tier_high": 512})
    assert ContextRule()(ctx(needs=needs, tiers=windows(1024, 32768))) is None  # type: ignore[arg-type]
    assert ContextRule()(ctx(needs=needs, tiers=windows(None, None))) is None  # type: ignore[arg-type]
    assert ContextRule()(ctx(needs=needs)) is None


def test_context_counts_prompt_plus_max_tokens_at_the_edge() -> None:
    rule = ContextRule()
    exact = Needs(prompt_tokens=512, output_tokens={"tier_low": 512, "tier_high": 512})
    assert rule(ctx(needs=exact, tiers=windows(1024, 32768))) is None  # type: ignore[arg-type]
    over = Needs(prompt_tokens=513, output_tokens={"tier_low": 512, "tier_high": 512})
    verdict = rule(ctx(needs=over, tiers=windows(1024, 32768)))  # type: ignore[arg-type]
    assert verdict is not None
    assert verdict.tier == "tier_high"
    assert verdict.reason == (
        "about 1025 tokens (prompt ~513 + max_tokens 512) > tier_low context 1024"
    )


def test_context_uses_each_tiers_own_max_tokens() -> None:
    # tier_low's cap lowers max_tokens there: the request fits tier_low and not tier_high
    needs = Needs(prompt_tokens=900, output_tokens={"tier_low": 100, "tier_high": 4000})
    verdict = ContextRule()(ctx(needs=needs, tiers=windows(1024, 4096)))  # type: ignore[arg-type]
    assert verdict is not None
    assert verdict.tier == "tier_low"


def test_context_unknown_window_counts_as_fitting() -> None:
    needs = Needs(prompt_tokens=5000)
    verdict = ContextRule()(ctx(needs=needs, tiers=windows(1024, None)))  # type: ignore[arg-type]
    assert verdict is not None
    assert verdict.tier == "tier_high"


def test_a_default_that_fits_nowhere_is_lowered_to_the_room_left() -> None:
    # the client asked for no max_tokens: the tiers' defaults may shrink to fit
    needs = Needs(1500, {"tier_low": 512, "tier_high": 2048}, flexible=True)
    verdict = ContextRule()(ctx(needs=needs, tiers=windows(1024, 3000)))  # type: ignore[arg-type]
    assert verdict is not None
    assert verdict.tier == "tier_high"
    assert "max_tokens lowered to fit" in verdict.reason
    assert needs.output_limits({"tier_low": 1024, "tier_high": 3000}) == {
        "tier_low": 512,  # no room at all there: left as it is
        "tier_high": 1500,
    }
    # when it fits at the full default, nothing changes
    roomy = Needs(100, {"tier_low": 512, "tier_high": 2048}, flexible=True)
    assert roomy.output_limits({"tier_low": 1024, "tier_high": 3000}) == roomy.output_tokens
    # a limit the client asked for is never changed: it fits or is refused
    asked = Needs(1500, {"tier_low": 512, "tier_high": 2048})
    assert asked.output_limits({"tier_low": 1024, "tier_high": 3000}) == asked.output_tokens
    with pytest.raises(BadRequest):
        ContextRule()(ctx(needs=asked, tiers=windows(1024, 3000)))  # type: ignore[arg-type]


def test_fits_nowhere_is_context_length_exceeded() -> None:
    needs = Needs(40_000, {"tier_low": 10, "tier_high": 10}, flexible=True)
    with pytest.raises(BadRequest) as caught:  # even a default cannot make room for it
        ContextRule()(ctx(needs=needs, tiers=windows(1024, 32768)))  # type: ignore[arg-type]
    error = caught.value
    assert (error.status, error.code, error.param) == (400, "context_length_exceeded", "messages")
    assert "about 40010 tokens" in error.message
    assert "tier_low 1024, tier_high 32768" in error.message


# --- session -------------------------------------------------------------------------------


def test_session_rule_abstains_without_a_pin() -> None:
    assert SessionRule()(ctx()) is None


def test_session_on_high_stays_whatever_the_score() -> None:
    verdict = SessionRule()(ctx(score=0.0, session="tier_high"))
    assert verdict is not None
    assert (verdict.tier, verdict.reason) == ("tier_high", "session pinned to tier_high")


def test_session_on_low_moves_up_only_over_the_higher_bar() -> None:
    rule = SessionRule()
    stays = rule(ctx(score=0.84, session="tier_low"))  # over the threshold, under the bar
    assert stays is not None
    assert stays.tier == "tier_low"
    moves = rule(ctx(score=0.85, session="tier_low"))
    assert moves is not None
    assert (moves.tier, moves.reason) == ("tier_high", "session moves up: score 0.85 >= 0.85")
    # the bar is never below the threshold in force
    live = rule(ctx(score=0.9, session="tier_low", threshold=0.95))
    assert live is not None
    assert live.tier == "tier_low"


# --- live threshold ------------------------------------------------------------------------


def test_live_threshold_off_keeps_the_static_one() -> None:
    live = LiveThreshold(target=0.0, window=50, fallback=0.65)
    for i in range(100):
        live.observe(i / 100)
    assert (live.value(), live.samples(), live.live) == (0.65, 0, False)


def test_live_threshold_waits_for_enough_samples() -> None:
    live = LiveThreshold(target=0.5, window=500, fallback=0.65)
    for _ in range(19):
        live.observe(0.1)
    assert live.value() == 0.65
    live.observe(0.1)
    assert live.value() == 0.1


def test_live_threshold_forgets_old_traffic() -> None:
    live = LiveThreshold(target=0.2, window=100, fallback=0.65)
    for i in range(100):
        live.observe(i / 1000)  # scores 0.000 .. 0.099
    assert live.value() == pytest.approx(0.08)
    for i in range(100):
        live.observe(0.5 + i / 1000)  # the traffic shifts: 0.500 .. 0.599
    assert live.value() == pytest.approx(0.58)
    assert live.samples() == 100


@pytest.mark.parametrize("target", [0.05, 0.2, 0.5, 0.9, 1.0])
def test_live_threshold_gives_the_target_share(target: float) -> None:
    live = LiveThreshold(target=target, window=400, fallback=0.65)
    scores = [(i * 7919 % 1000) / 1000 for i in range(2000)]  # a fixed, shuffled sequence
    high = 0
    for i, score in enumerate(scores):
        high += i >= 1000 and score >= live.value()
        live.observe(score)
    assert high / 1000 == pytest.approx(target, abs=0.02)


def test_live_threshold_refuses_bad_settings() -> None:
    with pytest.raises(ValueError, match="target"):
        LiveThreshold(target=1.5, window=10, fallback=0.5)
    with pytest.raises(ValueError, match="window"):
        LiveThreshold(target=0.5, window=0, fallback=0.5)


# --- through the router: estimates, pins, order ---------------------------------------------


def test_router_estimates_prompt_tokens_from_every_message(make_router: Factory) -> None:
    router = make_router(RoutingConfig(chars_per_token=4.0, context_margin=0.25))
    messages = [
        {"role": "system", "content": "s" * 400},
        {"role": "user", "content": [{"type": "text", "text": "u" * 400}, IMAGE]},
    ]
    decision = router.explain(messages)
    # 800 chars / 4 * 1.25 = 250, + 2 messages * 6, + 1 image * 512
    assert decision.prompt_tokens == 250 + 12 + 512


def test_router_counts_tool_definitions(make_router: Factory) -> None:
    router = make_router()
    tools = [{"type": "function", "function": {"name": "f", "description": "d" * 4000}}]
    plain = router.explain("hi").prompt_tokens
    with_tools = router.explain("hi", tools=tools).prompt_tokens
    assert plain is not None
    assert with_tools is not None
    assert with_tools - plain > 1000


def test_context_through_the_router(make_router: Factory) -> None:
    cfg = flat(tier_low_context_tokens=1024, tier_high_context_tokens=32768)
    router = make_router(cfg)
    easy_long = "Tell me about cats. " * 700  # 14,000 characters, an easy prompt
    decision = router.explain(easy_long, max_tokens=512)
    assert (decision.tier, decision.rule) == ("tier_high", "context")
    assert router.explain("thanks!", max_tokens=512).tier == "tier_low"
    assert router.explain("thanks!", max_tokens=2000).rule == "context"  # 2000 > 1024
    per_tier = {"tier_low": 100, "tier_high": 2000}  # a cap on tier_low makes it fit there
    assert router.explain("thanks!", max_tokens=per_tier).rule == "complexity"


def test_capability_through_the_router(make_router: Factory) -> None:
    cfg = flat(tier_low_vision="false", tier_high_vision="true")
    router = make_router(cfg)
    image = [{"role": "user", "content": [{"type": "text", "text": "hi"}, IMAGE]}]
    decision = router.explain(image)
    assert (decision.tier, decision.rule) == ("tier_high", "capability")
    assert router.explain("hi").rule == "complexity"


def test_tools_capability_from_settings(make_router: Factory) -> None:
    router = make_router(flat(tier_high_tools="false"))
    tools = [{"type": "function", "function": {"name": "f"}}]
    decision = router.explain(HARD, tools=tools)
    assert (decision.tier, decision.rule) == ("tier_low", "capability")


def test_session_stays_on_its_first_tier(make_router: Factory) -> None:
    router = make_router()
    first = router.explain(HARD, session="s1")
    assert (first.tier, first.rule) == ("tier_high", "complexity")
    again = router.explain("thanks!", session="s1")
    assert (again.tier, again.rule) == ("tier_high", "session")
    assert router.explain("thanks!").tier == "tier_low"  # no session
    assert router.explain("thanks!", session="s2").rule == "complexity"  # a new session
    assert router.state().sessions == 2


def test_session_on_low_moves_up_for_good(make_router: Factory) -> None:
    router = make_router()
    assert router.explain("hi", session="s").tier == "tier_low"
    hard = router.explain(HARD, session="s")  # scores 0.77: over 0.65, under the 0.85 bar
    assert (hard.tier, hard.rule) == ("tier_low", "session")
    router.config = RoutingConfig(session_escalate_score=0.7)
    up = router.explain(HARD, session="s")
    assert (up.tier, up.rule) == ("tier_high", "session")
    assert router.explain("ok", session="s").tier == "tier_high"  # it stays up


def test_override_does_not_pin_a_session(make_router: Factory) -> None:
    router = make_router()
    assert router.explain("hi", session="s", tier="high").rule == "override"
    assert router.explain("hi", session="s").rule == "complexity"  # the first routed turn
    assert router.explain(HARD, session="s").tier == "tier_low"  # now pinned to tier_low


def test_protection_comes_before_the_session(make_router: Factory, fake_nvml: FakeNVML) -> None:
    router = make_router()
    assert router.explain(HARD, session="s").tier == "tier_high"
    fake_nvml.gpus[0] = (0.5, 16.0, 10.0)  # tier_high's GPU is out of memory
    router.refresh()
    diverted = router.explain("thanks!", session="s")
    assert (diverted.tier, diverted.rule) == ("tier_low", "vram")  # no error
    fake_nvml.gpus[0] = (10.0, 16.0, 10.0)
    router.refresh()
    back = router.explain("thanks!", session="s")
    assert (back.tier, back.rule) == ("tier_high", "session")  # the pin held


def test_conversation_key_only_when_asked(make_router: Factory) -> None:
    convo = [{"role": "user", "content": HARD}]
    later = [*convo, {"role": "assistant", "content": "..."}, {"role": "user", "content": "ok"}]
    off = make_router()
    off.explain(convo)
    assert off.explain(later).rule == "complexity"
    on = make_router(RoutingConfig(session_from_conversation=True))
    on.explain(convo)
    assert (on.explain(later).tier, on.explain(later).rule) == ("tier_high", "session")


def test_sessions_off_with_session_max_zero(make_router: Factory) -> None:
    router = make_router(RoutingConfig(session_max=0))
    router.explain(HARD, session="s")
    assert router.explain("thanks!", session="s").rule == "complexity"
    assert router.state().sessions == 0


def test_live_threshold_through_the_router(make_router: Factory) -> None:
    router = make_router(RoutingConfig(target_high_share=0.5, share_window=100))
    scores = FixedScorer(0.0)
    router.scorer = scores
    tiers = []
    for i in range(300):
        scores.total = (i * 37 % 100) / 100
        decision = router.explain("x")
        tiers.append(decision.tier)
    share = tiers[100:].count("tier_high") / 200
    assert share == pytest.approx(0.5, abs=0.05)
    assert router.state().threshold == pytest.approx(0.5, abs=0.05)
    assert "live threshold" in decision.reason


def test_only_complexity_decisions_move_the_threshold(make_router: Factory) -> None:
    cfg = flat(target_high_share=0.5, share_window=20, tier_low_vision="false")
    router = make_router(cfg, scorer=FixedScorer(0.9))
    image = [{"role": "user", "content": [IMAGE]}]
    for _ in range(50):
        assert router.explain(image).rule == "capability"
    assert router.state().threshold == 0.65  # untouched: no complexity decision yet


def test_engine_facts_reach_the_rules(make_router: Factory, clock: Clock) -> None:
    low, high = "http://10.0.0.1:8080/v1", "http://10.0.0.2:8000/v1"
    pages = {
        "http://10.0.0.1:8080/health": b"{}",
        "http://10.0.0.1:8080/props": b'{"default_generation_settings": {"n_ctx": 512}}',
        "http://10.0.0.2:8000/health": b"{}",
        "http://10.0.0.2:8000/v1/models": b'{"data": [{"id": "m", "max_model_len": 32768}]}',
    }

    def fetch(url: str, timeout: float, body: bytes | None = None) -> tuple[int, bytes]:
        return (200, pages[url]) if url in pages else (404, b"")

    monitor = EngineMonitor([low, high], 0, fetch=fetch, clock=clock)
    upstreams = {"tier_low": [low], "tier_high": [high]}
    router = make_router(upstreams=upstreams, engine_monitor=monitor)
    state = router.state()
    assert state.tiers["tier_low"].context_tokens == 512  # llama.cpp /props
    assert state.tiers["tier_high"].context_tokens == 32768  # vLLM-style /v1/models
    decision = router.explain("x" * 4000, max_tokens=100)
    assert (decision.tier, decision.rule) == ("tier_high", "context")
    # a setting wins over what the engine says
    wide = make_router(
        flat(tier_low_context_tokens=100_000), upstreams=upstreams,
        engine_monitor=EngineMonitor([low, high], 0, fetch=fetch, clock=clock),
    )  # fmt: skip
    assert wide.explain("x" * 4000, max_tokens=100).rule == "complexity"


@pytest.mark.parametrize(
    ("setup", "rule"),
    [
        ({"tier": "low"}, "override"),  # override beats a prompt that fits only tier_high
        ({}, "capability"),  # capability beats context and the GPU
        ({"vision": "true"}, "context"),  # then context, before the GPU
        ({"vision": "true", "fits": True}, "vram"),  # then protection, before the session
    ],
)
def test_chain_order(
    make_router: Factory, fake_nvml: FakeNVML, setup: dict[str, object], rule: str
) -> None:
    fake_nvml.gpus[0] = (0.5, 16.0, 10.0)  # tier_high's GPU is nearly full
    cfg = flat(
        tier_low_vision=setup.get("vision", "false"),
        tier_high_context_tokens=1_000_000 if setup.get("fits") else 2000,
        tier_low_context_tokens=1_000_000 if setup.get("fits") else 100,
    )
    router = make_router(cfg)
    router.explain(HARD, session="s")  # pins nothing: vram decides
    prompt = [{"role": "user", "content": [{"type": "text", "text": "hi " * 300}, IMAGE]}]
    decision = router.explain(prompt, tier=setup.get("tier"), session="s")  # type: ignore[arg-type]
    assert decision.rule == rule


def test_a_session_whose_tier_is_down_goes_elsewhere_without_error(
    make_router: Factory, clock: Clock
) -> None:
    low, high = "http://10.0.0.1:8080/v1", "http://10.0.0.2:8080/v1"
    health = {"http://10.0.0.1:8080/health": 200, "http://10.0.0.2:8080/health": 200}

    def fetch(url: str, timeout: float, body: bytes | None = None) -> tuple[int, bytes]:
        return (health[url], b"{}") if url in health else (404, b"")

    monitor = EngineMonitor([low, high], 0, fetch=fetch, clock=clock)
    router = make_router(upstreams={"tier_low": [low], "tier_high": [high]}, engine_monitor=monitor)
    assert router.explain(HARD, session="s").tier == "tier_high"
    health["http://10.0.0.2:8080/health"] = 503  # tier_high goes down
    router.refresh()
    down = router.explain("thanks!", session="s")
    assert (down.tier, down.rule) == ("tier_low", "health")
    health["http://10.0.0.2:8080/health"] = 200
    router.refresh()
    assert router.explain("thanks!", session="s").rule == "session"  # back on its tier
