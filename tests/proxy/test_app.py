"""The proxy app in-process, on scriptable fake upstreams (adaptive_router.bench.fake_engine)."""

from __future__ import annotations

import asyncio
import json

import pytest

from adaptive_router import RoutingConfig
from adaptive_router.bench.fake_engine import FakeEngine
from tests.proxy.asgi import call, chat
from tests.proxy.conftest import AppFactory

CHAT = "/v1/chat/completions"
EASY = {"model": "auto", "messages": [{"role": "user", "content": "hi"}]}
HARD = {
    "model": "auto",
    "messages": [{"role": "user", "content": "Prove the Riemann hypothesis step by step"}],
}


async def test_routes_by_complexity_and_says_so(make_app: AppFactory) -> None:
    app = await make_app()
    easy = await call(app, CHAT, EASY)
    hard = await call(app, CHAT, HARD)
    assert easy.status == hard.status == 200
    assert easy.headers["x-stratum-tier"] == "tier_low"
    assert easy.headers["x-stratum-rule"] == "complexity"
    assert easy.json()["choices"][0]["message"]["content"] == "answer from low"
    assert hard.headers["x-stratum-tier"] == "tier_high"
    assert hard.json()["choices"][0]["message"]["content"] == "answer from high"
    assert float(hard.headers["x-stratum-score"]) >= 0.65
    assert len(easy.headers["x-request-id"]) == 32


async def test_aliases_and_header_force_a_tier(make_app: AppFactory) -> None:
    app = await make_app()
    assert (await call(app, CHAT, chat("gemma4-smart"))).headers["x-stratum-tier"] == "tier_high"
    assert (await call(app, CHAT, chat("gemma4-lite"))).headers["x-stratum-tier"] == "tier_low"
    forced = await call(app, CHAT, chat("gemma4-fast"), headers={"x-stratum-tier": "high"})
    assert forced.headers["x-stratum-tier"] == "tier_high"
    assert forced.headers["x-stratum-rule"] == "override"
    bad = await call(app, CHAT, chat(), headers={"x-stratum-tier": "medium"})
    assert bad.status == 400
    assert "x-stratum-tier" in bad.json()["error"]["message"]


async def test_unknown_model_is_404_listing_the_valid_names(make_app: AppFactory) -> None:
    reply = await call(await make_app(), CHAT, chat("gpt-5"))
    assert reply.status == 404
    error = reply.json()["error"]
    assert error["code"] == "model_not_found"
    assert error["param"] == "model"
    for name in ("gemma4-fast", "auto", "gemma4-smart", "gemma4-lite"):
        assert name in error["message"]


async def test_upstream_gets_its_model_name_a_correct_body_and_no_client_secrets(
    make_app: AppFactory, low: FakeEngine, high: FakeEngine
) -> None:
    app = await make_app(tier_high_model="configured-big", tier_high_api_key="sk-upstream")
    pretty = json.dumps(chat("gemma4-smart", "hello", temperature=0.2), indent=4).encode()
    reply = await call(
        app,
        CHAT,
        pretty,
        headers={
            "authorization": "Bearer client-secret",
            "content-length": str(len(pretty)),
            "connection": "keep-alive",
            "transfer-encoding": "identity",
            "x-custom-header": "kept",
        },
    )
    assert reply.status == 200, reply.body
    seen = high.seen[-1]
    assert seen.json()["model"] == "configured-big"
    assert seen.json()["temperature"] == 0.2
    assert int(seen.headers["content-length"]) == len(seen.body)
    assert seen.body != pretty  # re-serialised, not forwarded with the client's length
    assert seen.headers["authorization"] == "Bearer sk-upstream"
    assert seen.headers["x-custom-header"] == "kept"
    assert "transfer-encoding" not in seen.headers
    assert seen.headers["x-request-id"] == reply.headers["x-request-id"]
    await call(app, CHAT, chat("gemma4-lite"), headers={"authorization": "Bearer client-secret"})
    assert low.seen[-1].json()["model"] == "small-model"  # discovered from its /v1/models
    assert "authorization" not in low.seen[-1].headers


async def test_streaming_passes_each_chunk_through_as_it_arrives(
    make_app: AppFactory, low: FakeEngine
) -> None:
    low.chunks, low.delay_s = 5, 0.15
    app = await make_app()
    reply = await call(app, CHAT, chat("gemma4-lite", stream=True))
    assert reply.status == 200
    assert reply.headers["content-type"].startswith("text/event-stream")
    texts = [e["choices"][0]["delta"].get("content") for e in reply.events()[:-1]]
    assert texts == [None, "low-0 ", "low-1 ", "low-2 ", "low-3 ", "low-4 "]
    assert reply.events()[-1] == "[DONE]"
    times = [t for t, _ in reply.chunks]
    # unbuffered: chunks arrive spread over the upstream's 0.6 s, not all at the end
    assert times[-1] - times[0] > 0.45
    ttft = app.router.state().latency["tier_low"].ttft_ms
    assert ttft is not None
    assert ttft < 120  # measured at the first content chunk, not at the end


async def test_text_completions_stream_too(make_app: AppFactory, high: FakeEngine) -> None:
    app = await make_app()
    body = {"model": "gemma4-smart", "prompt": "Once upon a time", "stream": True}
    reply = await call(app, "/v1/completions", body)
    assert reply.status == 200
    assert reply.events()[0]["choices"][0]["text"] == "high-0 "
    assert high.seen[-1].path == "/v1/completions"
    assert app.router.state().latency["tier_high"].ttft_ms is not None


@pytest.mark.parametrize("behaviour", ["status", "refused", "stall"])
async def test_failover_before_first_byte(
    make_app: AppFactory, high: FakeEngine, behaviour: str
) -> None:
    if behaviour == "refused":
        await high.stop()
    high.behaviour, high.delay_s = behaviour, 2.0
    app = await make_app(tier_high_first_byte_timeout_s=0.3)
    reply = await call(app, CHAT, chat("gemma4-smart", stream=True))
    assert reply.status == 200
    assert reply.headers["x-stratum-tier"] == "tier_low"
    assert reply.headers["x-stratum-failover"] == "tier_high->tier_low"
    assert reply.events()[-1] == "[DONE]"
    metrics = app.metrics.render().decode()
    assert 'stratum_failovers_total{from_tier="tier_high",to_tier="tier_low"} 1.0' in metrics


async def test_failover_can_be_turned_off(make_app: AppFactory, high: FakeEngine) -> None:
    high.behaviour = "status"
    reply = await call(await make_app(failover=False), CHAT, chat("gemma4-smart"))
    assert reply.status == 503
    assert "tier_high" in reply.json()["error"]["message"]


async def test_client_errors_from_upstream_pass_through_without_failover(
    make_app: AppFactory, high: FakeEngine, low: FakeEngine
) -> None:
    high.behaviour, high.status = "status", 422
    reply = await call(await make_app(), CHAT, chat("gemma4-smart"))
    assert reply.status == 422
    assert reply.json()["error"]["message"] == "upstream broke"
    assert low.seen == []


async def test_an_error_the_request_causes_on_both_tiers_is_a_400_and_opens_no_breaker(
    make_app: AppFactory, high: FakeEngine, low: FakeEngine
) -> None:
    # what llama-server without --jinja answers a request with tools
    for engine in (high, low):
        engine.behaviour, engine.error = "status", "tools param requires --jinja flag"
    app = await make_app(breaker_failures=2)
    for _ in range(5):
        reply = await call(app, CHAT, chat("gemma4-smart", tools=[]))
        assert reply.status == 400
        error = reply.json()["error"]
        assert error["message"].startswith("tools param requires --jinja flag")
        assert error["code"] == "upstream_rejected_request"
    assert len(high.seen) == len(low.seen) == 5  # both tiers stayed in rotation
    assert (await call(app, "/health", method="GET")).json()["status"] == "ok"
    metrics = app.metrics.render().decode()
    assert 'stratum_upstream_errors_total{kind="rejected",tier="tier_high"} 5.0' in metrics
    high.behaviour = low.behaviour = "ok"
    assert (await call(app, CHAT, chat("gemma4-smart"))).status == 200


async def test_a_5xx_the_other_tier_does_not_repeat_counts_against_the_engine(
    make_app: AppFactory, high: FakeEngine, low: FakeEngine
) -> None:
    high.behaviour = "status"  # 500 on tier_high only: the engine is at fault
    app = await make_app(breaker_failures=2)
    for _ in range(2):
        assert (await call(app, CHAT, chat("gemma4-smart"))).headers["x-stratum-tier"] == (
            "tier_low"
        )
    health = (await call(app, "/health", method="GET")).json()
    assert health["tiers"]["tier_high"]["upstreams"][0]["state"] == "open"
    assert "HTTP 500" in health["tiers"]["tier_high"]["upstreams"][0]["last_error"]


async def test_both_tiers_down_is_503_saying_what_failed(
    make_app: AppFactory, high: FakeEngine, low: FakeEngine
) -> None:
    high.behaviour, high.status = "status", 502
    app = await make_app()
    await low.stop()
    reply = await call(app, CHAT, chat("gemma4-smart"))
    assert reply.status == 503
    message = reply.json()["error"]["message"]
    assert "tier_high" in message
    assert "HTTP 502" in message
    assert "tier_low" in message
    assert "ClientConnectorError" in message or "Connect" in message


async def test_midstream_failure_ends_with_an_error_event(
    make_app: AppFactory, low: FakeEngine
) -> None:
    low.behaviour, low.chunks = "die_midstream", 5
    reply = await call(await make_app(), CHAT, chat("gemma4-lite", stream=True))
    assert reply.status == 200
    last = reply.events()[-1]
    assert "error" in last
    assert "mid-answer" in last["error"]["message"]


async def test_stalled_stream_ends_with_an_error_event_not_a_hang(
    make_app: AppFactory, low: FakeEngine
) -> None:
    low.behaviour, low.delay_s = "stall_midstream", 5.0
    app = await make_app(tier_low_idle_timeout_s=0.3)
    reply = await asyncio.wait_for(call(app, CHAT, chat("gemma4-lite", stream=True)), 3)
    assert "stalled" in reply.events()[-1]["error"]["message"]


async def test_circuit_breaker_skips_a_failing_upstream_then_probes_it(
    make_app: AppFactory, high: FakeEngine, low: FakeEngine
) -> None:
    high.behaviour = "status"
    app = await make_app(breaker_failures=2, breaker_cooldown_s=0.3)
    for _ in range(2):
        await call(app, CHAT, chat("gemma4-smart"))
    assert len(high.seen) == 2
    skipped = await call(app, CHAT, chat("gemma4-smart"))
    assert skipped.headers["x-stratum-tier"] == "tier_low"
    assert len(high.seen) == 2  # out of rotation: not even tried
    health = (await call(app, "/health", method="GET")).json()
    assert health["status"] == "degraded"
    assert health["tiers"]["tier_high"]["upstreams"][0]["state"] == "open"
    await asyncio.sleep(0.35)
    high.behaviour = "ok"
    probe = await call(app, CHAT, chat("gemma4-smart"))
    assert probe.headers["x-stratum-tier"] == "tier_high"
    assert (await call(app, "/health", method="GET")).json()["status"] == "ok"


async def test_client_disconnect_cancels_the_upstream_stream(
    make_app: AppFactory, low: FakeEngine
) -> None:
    low.chunks, low.delay_s = 50, 0.05
    app = await make_app()
    await call(app, CHAT, chat("gemma4-lite", stream=True), disconnect_after_first_chunk=True)
    for _ in range(40):
        if low.abandoned:
            break
        await asyncio.sleep(0.05)
    assert low.abandoned == 1
    assert low.completed == 0
    assert app.pools["tier_low"].upstreams[0].in_flight == 0
    recent = (await call(app, "/api/status", method="GET")).json()["recent"][0]
    assert (recent["tier"], recent["status"]) == ("tier_low", 499)  # the client closed it
    assert recent["ttft_ms"] is not None  # the first chunk had arrived


async def test_models_health_and_metrics(make_app: AppFactory) -> None:
    app = await make_app()
    models = await call(app, "/v1/models", method="GET")
    assert [m["id"] for m in models.json()["data"]] == [
        "gemma4-fast", "auto", "gemma4-smart", "gemma4-lite",
    ]  # fmt: skip
    health = await call(app, "/health", method="GET")
    assert health.status == 200
    assert health.json()["status"] == "ok"
    assert health.json()["tiers"]["tier_low"]["upstreams"][0]["model"] == "small-model"
    await call(app, CHAT, EASY)
    await call(app, CHAT, chat("gemma4-smart", stream=True))
    text = (await call(app, "/metrics", method="GET")).body.decode()
    assert 'stratum_decisions_total{rule="complexity",tier="tier_low"} 1.0' in text
    assert 'stratum_decisions_total{rule="override",tier="tier_high"} 1.0' in text
    assert "stratum_complexity_score_count 2.0" in text
    assert 'stratum_ttft_seconds_count{tier="tier_high"} 1.0' in text
    assert 'stratum_in_flight{tier="tier_low"} 0.0' in text
    assert "stratum_gpu_monitor_available 0.0" in text
    assert 'stratum_upstream_up{tier="tier_high"' in text


async def test_score_histogram_records_the_score(make_app: AppFactory) -> None:
    app = await make_app()
    await call(app, CHAT, HARD)
    text = app.metrics.render().decode()
    assert 'stratum_complexity_score_bucket{le="0.5"} 0.0' in text  # a hard prompt, > 0.5
    assert 'stratum_complexity_score_bucket{le="1.0"} 1.0' in text


@pytest.mark.parametrize(
    ("body", "status", "needle"),
    [
        (b"", 400, "empty"),
        (b"{not json", 400, "not valid JSON"),
        (b"[1, 2]", 400, "JSON object"),
        (b'{"model": "auto"}', 400, "'messages'"),
        (b'{"model": "auto", "messages": []}', 400, "'messages'"),
        (b'{"model": "auto", "messages": "hi"}', 400, "'messages'"),
        (b'{"model": "auto", "messages": [{"content": "hi"}]}', 400, "'role'"),
        (b'{"model": "auto", "messages": [{"role": "user", "content": 5}]}', 400, "content"),
        (b'{"model": 7, "messages": [{"role": "user", "content": "x"}]}', 400, "'model'"),
        (b'{"messages": [{"role": "user", "content": "x"}], "stream": "yes"}', 400, "'stream'"),
    ],
)
async def test_bad_requests_get_openai_style_4xx(
    make_app: AppFactory, body: bytes, status: int, needle: str
) -> None:
    reply = await call(await make_app(), CHAT, body)
    assert reply.status == status
    error = reply.json()["error"]
    assert needle in error["message"]
    assert error["type"] == "invalid_request_error"


async def test_body_limit_endpoints_methods_and_keys(make_app: AppFactory) -> None:
    app = await make_app(max_body_mb=0.001, api_keys="k1,k2")
    auth = {"authorization": "Bearer k2"}
    big = await call(app, CHAT, chat(text="x" * 2000), headers=auth)
    assert big.status == 413
    assert (await call(app, "/v1/nothing", method="GET")).status == 404
    assert (await call(app, CHAT, method="GET", headers=auth)).status == 405
    assert (await call(app, "/v1/models", method="GET")).status == 401
    wrong = await call(app, CHAT, chat(), headers={"authorization": "Bearer k3"})
    assert wrong.status == 401
    assert wrong.json()["error"]["code"] == "invalid_api_key"
    assert (await call(app, CHAT, chat(), headers=auth)).status == 200
    assert (await call(app, "/health", method="GET")).status == 200  # stays open
    assert (await call(app, "/metrics", method="GET")).status == 200


async def test_unstreamed_answers_record_total_time_only(make_app: AppFactory) -> None:
    app = await make_app(routing=RoutingConfig(vram_poll_interval_ms=0))
    await call(app, CHAT, chat("gemma4-lite"))
    latency = app.router.state().latency["tier_low"]
    assert latency.ttft_ms is None
    assert latency.total_ms is not None


async def test_status_api_and_page(make_app: AppFactory, high: FakeEngine) -> None:
    app = await make_app()
    await call(app, CHAT, EASY)
    await call(app, CHAT, chat("gemma4-smart", stream=True))
    high.behaviour = "status"
    await call(app, CHAT, chat("gemma4-smart"))  # fails over to tier_low
    status = (await call(app, "/api/status", method="GET")).json()
    assert status["tiers"]["tier_low"]["answered"] == 2
    assert status["tiers"]["tier_high"]["answered"] == 1
    assert status["tiers"]["tier_high"]["ttft_ema_ms"] is not None
    assert status["tiers"]["tier_low"]["share"] == pytest.approx(2 / 3)
    newest, streamed, oldest = status["recent"]
    assert (newest["decided"], newest["tier"], newest["failover"]) == (
        "tier_high", "tier_low", True,
    )  # fmt: skip
    assert streamed["ttft_ms"] is not None
    assert oldest["rule"] == "complexity"
    page = await call(app, "/", method="GET")
    assert page.status == 200
    assert page.headers["content-type"].startswith("text/html")
    assert b"api/status" in page.body
    assert b"http://" not in page.body  # nothing external: the page works offline
    assert b"https://" not in page.body
