import dataclasses
import subprocess
import sys
import threading
from collections.abc import Callable

import pytest

from adaptive_router import AdaptiveRouter, RoutingConfig, Verdict
from adaptive_router.rules import RoutingContext, default_rules
from adaptive_router.scoring.text import prompt_text
from tests.conftest import Clock, FakeNVML, FixedScorer

Factory = Callable[..., AdaptiveRouter]


def test_seed_readme_examples() -> None:
    with AdaptiveRouter(RoutingConfig(complexity_threshold=0.65, vram_headroom_gb=1.5)) as r:
        assert r.route("Prove the Riemann hypothesis step by step") == "tier_high"
        assert r.route("What time is it in Tokyo?") == "tier_low"


def test_explain_returns_the_whole_decision(make_router: Factory) -> None:
    decision = make_router().explain("Prove the Riemann hypothesis step by step")
    assert decision.tier == "tier_high"
    assert decision.rule == "complexity"  # it votes both ways: a hard prompt is not "default"
    assert decision.threshold == 0.65
    assert 0.65 <= decision.score <= 1.0
    assert set(decision.breakdown) == {"math", "code", "depth", "tokens", "entities", "negation"}
    assert decision.signals["vram_available"] is True
    assert decision.signals["vram_free_gb_min"] == pytest.approx(10.0)
    assert decision.signals["gpu_util_pct_max"] == pytest.approx(30.0)
    assert decision.to_dict()["breakdown"] == dict(decision.breakdown)
    with pytest.raises(AttributeError):
        decision.tier = "tier_low"  # type: ignore[misc]


MESSAGES = [
    {"role": "system", "content": "You are a helpful assistant. " * 50},
    {"role": "user", "content": "Prove the Riemann hypothesis step by step"},
    {"role": "assistant", "content": "That is an open problem."},
    {"role": "user", "content": [
        {"type": "text", "text": "What time is it"},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}},
        {"type": "input_audio", "input_audio": {"data": "AAAA", "format": "wav"}},
        {"type": "mystery"},
        {"type": "text", "text": "in Tokyo?"},
    ]},
]  # fmt: skip


def test_messages_score_the_last_user_turn(make_router: Factory) -> None:
    router = make_router()
    assert router.route(MESSAGES) == "tier_low"
    assert router.route(MESSAGES[:2]) == "tier_high"
    assert router.explain(MESSAGES).score == router.explain("What time is it\nin Tokyo?").score


HARD = "Prove the Riemann hypothesis step by step"
IMAGE = {"type": "image_url", "image_url": {"url": "x"}}


@pytest.mark.parametrize(
    ("messages", "scored"),
    [
        ([], ""),
        ([{"role": "user"}], ""),
        ([{"role": "user", "content": None}], ""),
        ([{"role": "user", "content": [IMAGE]}], ""),
        ([{"role": "user", "content": [{"type": "text", "text": 42}, 7, None]}], ""),
        (["not a message", 3, None], ""),
        # no user turn has text: the last turn with any text is scored
        ([{"role": "tool", "content": "result"}], "result"),
        # a user turn has text: it wins over any later turn of another role
        ([{"role": "user", "content": "hi"}, {"role": "tool", "content": HARD}], "hi"),
        # the last user turn is scored, whatever shape its text comes in
        ([{"role": "user", "content": HARD}, {"role": "user", "content": [IMAGE, "ok"]}], "ok"),
        # the last user turn is an image only: the user turn before it is scored
        ([{"role": "user", "content": HARD}, {"role": "user", "content": [IMAGE]}], HARD),
        # text parts survive junk around them; a part without a type is text
        (["junk", {"role": "user", "content": [None, 7, IMAGE, {"text": HARD}]}], HARD),
        ([{"role": "user", "content": [{"type": "input_text", "text": HARD}, IMAGE]}], HARD),
        # no role: still a turn with text; unknown part types are skipped
        ([{"content": [{"text": "a"}, "b", {"type": "mystery", "text": "c"}]}], "a\nb"),
    ],
)
def test_odd_messages_score_their_text_like_a_plain_string(
    make_router: Factory, messages: list[object], scored: str
) -> None:
    assert prompt_text(messages) == scored  # type: ignore[arg-type]
    router = make_router()
    decision = router.explain(messages)  # type: ignore[arg-type]
    same = dataclasses.replace(router.explain(scored), prompt_tokens=decision.prompt_tokens)
    assert decision == same  # the prompt estimate counts every message, not the scored text
    if scored == HARD:  # a hard text inside odd content still routes high
        assert decision.tier == "tier_high"


def test_wrong_prompt_type_is_a_clear_type_error(make_router: Factory) -> None:
    with pytest.raises(TypeError, match="string or a list of messages"):
        make_router().route(42)  # type: ignore[arg-type]


def test_forced_tier_and_bad_tier(make_router: Factory) -> None:
    router = make_router()
    assert router.route("hi", tier="high") == "tier_high"
    assert router.route("Prove the Riemann hypothesis step by step", tier="tier_low") == "tier_low"
    with pytest.raises(ValueError, match="unknown tier"):
        router.route("hi", tier="medium")


def test_custom_rules_replace_or_extend_the_chain(make_router: Factory) -> None:
    class Weekend:
        name = "weekend"

        def __call__(self, ctx: RoutingContext) -> Verdict | None:
            return Verdict("tier_low", "weekend") if "saturday" in ctx.text else None

    router = make_router(rules=[Weekend(), *default_rules()], scorer=FixedScorer(0.9))
    assert router.explain("saturday plans").rule == "weekend"
    assert router.explain("monday plans").rule == "complexity"
    no_complexity = [r for r in default_rules() if r.name != "complexity"]
    assert make_router(rules=no_complexity).explain("monday plans").rule == "default"
    bare = make_router(rules=[], scorer=FixedScorer(0.0))
    assert bare.explain("x").tier == "tier_high"  # no rules: the default tier
    low_default = make_router(RoutingConfig(default_tier="tier_low"), rules=[])
    assert low_default.route("x") == "tier_low"


def test_sla_rule_recovers_through_probes(make_router: Factory) -> None:
    cfg = RoutingConfig(latency_sla_ms=2000, sla_probe_share=0.1, sla_decay_half_life_s=0)
    router = make_router(cfg, scorer=FixedScorer(0.9))
    router.observe("tier_high", 6000)  # tier_high looks slow
    tiers = []
    for _ in range(200):
        decision = router.explain("hard")
        tiers.append(decision.tier)
        if decision.tier == "tier_high":  # a probe: tier_high has recovered, answers fast
            router.observe("tier_high", 300)
    assert "tier_low" in tiers[:10]
    assert tiers[-20:] == ["tier_high"] * 20, "the SLA rule never let go of a recovered tier"
    assert router.state().latency["tier_high"].ttft_ms < 2000  # type: ignore[operator]


def test_sla_rule_recovers_by_decay_without_traffic(make_router: Factory, clock: Clock) -> None:
    cfg = RoutingConfig(sla_probe_share=0, sla_decay_half_life_s=30, vram_stale_ms=1e6)
    router = make_router(cfg, scorer=FixedScorer(0.9))
    router.observe("tier_high", 8000)
    assert router.route("hard") == "tier_low"
    clock.advance(120)  # four half-lives: 8000 -> 500 ms
    assert router.route("hard") == "tier_high"


def test_observe_is_thread_safe(make_router: Factory) -> None:
    router = make_router()

    def work() -> None:
        for _ in range(300):
            router.observe("high", 100, total_ms=500)
            router.route("hi")

    threads = [threading.Thread(target=work) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert router.state().latency["tier_high"].samples == 1800


def test_close_stops_the_monitor_thread() -> None:
    from adaptive_router import VRAMMonitor
    from tests.conftest import FakeNVML

    monitor = VRAMMonitor(0.005, nvml=FakeNVML({0: (8.0, 16.0, 5.0)}))
    with AdaptiveRouter(RoutingConfig(), monitor=monitor):
        thread = monitor._thread
        assert thread is not None
        assert thread.is_alive()
    assert not thread.is_alive()


def test_import_starts_no_thread_and_touches_no_nvml() -> None:
    code = (
        "import sys, threading, adaptive_router;"
        "assert threading.active_count() == 1, threading.enumerate();"
        "assert 'pynvml' not in sys.modules;"
        "print('clean')"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "clean"


def test_state_is_one_frozen_view_of_config_and_signals(
    make_router: Factory, fake_nvml: FakeNVML
) -> None:
    cfg = RoutingConfig(complexity_threshold=0.4)
    router = make_router(cfg)
    router.observe("tier_high", 900.0)
    state = router.state()
    assert state.config is cfg
    assert state.gpu.available
    assert state.gpu.min_free_gb == pytest.approx(fake_nvml.gpus[0][0])
    assert state.latency["tier_high"].ttft_ms == pytest.approx(900.0)
    assert state.latency["tier_low"].ttft_ms is None
    assert state.engines == {}  # no upstreams given: nothing polled
    with pytest.raises(dataclasses.FrozenInstanceError):
        state.config = RoutingConfig()  # type: ignore[misc]
    router.observe("tier_high", 100.0)
    assert state.latency["tier_high"].ttft_ms == pytest.approx(900.0)  # a snapshot, not live
    assert router.state().latency["tier_high"].ttft_ms != pytest.approx(900.0)


def test_refresh_reads_the_gpu_now(make_router: Factory, fake_nvml: FakeNVML) -> None:
    router = make_router()
    fake_nvml.gpus[0] = (0.5, 16.0, 10.0)
    assert router.state().gpu.min_free_gb != pytest.approx(0.5)  # the monitor does not poll
    assert router.refresh().gpu.min_free_gb == pytest.approx(0.5)
    assert router.route("Prove the Riemann hypothesis step by step") == "tier_low"
