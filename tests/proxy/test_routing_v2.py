"""Routing v2 through the proxy as a user runs it: ``python -m adaptive_router.middleware`` in
front of two OpenAI servers, the official openai SDK as the client, real HTTP on loopback.

The two servers are FakeEngines (adaptive_router.bench.fake_engine), not llama-servers: the
checks need a tier that advertises vLLM's ``max_model_len`` in /v1/models (1024 and 32768
tokens), a tier that refuses with a 500 on demand, and the exact bodies each tier received;
a llama-server can do none of these.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import openai
import pytest

from adaptive_router import AdaptiveRouter, RoutingConfig
from adaptive_router.bench.fake_engine import FakeEngine, free_port
from adaptive_router.bench.workloads import WorkloadSpec, build_workload
from tests.proxy.test_real_server import wait_healthy
from tests.stack.test_status_page import browser  # noqa: F401 (the chromium fixture)

HARD = "Prove the Riemann hypothesis step by step"
EASY_LONG = "Tell me about cats please. " * 520  # about 14,000 characters of an easy prompt
IMAGE = {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}}


class Engines:
    """Two FakeEngines on a loop of their own, beside the test's synchronous client."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.low = self.run(FakeEngine(name="low", model="small", max_model_len=1024).start())
        self.high = self.run(FakeEngine(name="high", model="big", max_model_len=32768).start())

    def run(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(10)

    def close(self) -> None:
        self.run(self.low.stop())
        self.run(self.high.stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        self.loop.close()


@dataclass
class Proxy:
    url: str
    client: openai.OpenAI


@pytest.fixture(scope="module")
def engines() -> Iterator[Engines]:
    running = Engines()
    yield running
    running.close()


def start_proxy(engines: Engines, log: Path, **env: str) -> tuple[subprocess.Popen[str], str]:
    port = free_port()
    environ = {**os.environ, "STRATUM_ENGINE_POLL_INTERVAL_MS": "200", **env}
    with log.open("w") as out:
        process = subprocess.Popen(
            [
                sys.executable, "-m", "adaptive_router.middleware",
                "--tier-low-url", engines.low.url, "--tier-high-url", engines.high.url,
                "--port", str(port),
            ],
            stdout=out, stderr=subprocess.STDOUT, text=True, env=environ,
        )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    wait_healthy(url, process)
    return process, url


def stop(process: subprocess.Popen[str]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        process.wait(15)


def metrics(url: str) -> str:
    with urllib.request.urlopen(url + "/metrics", timeout=5) as response:
        return str(response.read().decode())


def metric(text: str, name: str) -> float:
    match = re.search(rf"^{re.escape(name)} (\S+)$", text, re.MULTILINE)
    assert match is not None, f"{name} not in /metrics"
    return float(match.group(1))


@pytest.fixture(scope="module")
def proxy(engines: Engines, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proxy]:
    log = tmp_path_factory.mktemp("routing") / "proxy.log"
    process, url = start_proxy(
        engines, log,
        STRATUM_TIER_LOW_VISION="false", STRATUM_TIER_HIGH_VISION="true",
        STRATUM_TIER_LOW_MAX_TOKENS_CAP="256",
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 15
        while "stratum_tier_context_tokens{tier=" not in metrics(url):  # engines polled
            assert time.monotonic() < deadline, "the engines' context windows were never read"
            time.sleep(0.1)
        with openai.OpenAI(base_url=url + "/v1", api_key="x", max_retries=0) as client:
            yield Proxy(url, client)
    finally:
        stop(process)


def ask(proxy: Proxy, content: Any, session: str | None = None, **extra: Any) -> dict[str, str]:
    """Send one chat request; the x-stratum-* headers of the answer."""
    headers = {"x-session-id": session} if session else {}
    raw = proxy.client.chat.completions.with_raw_response.create(
        model="gemma4-fast",
        messages=[{"role": "user", "content": content}],
        extra_headers=headers,
        **extra,
    )
    raw.parse()
    return {k: v for k, v in raw.headers.items() if k.startswith("x-stratum-")}


def test_context_windows_are_read_from_v1_models(proxy: Proxy) -> None:
    text = metrics(proxy.url)
    assert metric(text, 'stratum_tier_context_tokens{tier="tier_low"}') == 1024
    assert metric(text, 'stratum_tier_context_tokens{tier="tier_high"}') == 32768


def test_a_session_stays_on_its_tier(proxy: Proxy) -> None:
    hard = ask(proxy, HARD, session="s1")
    assert (hard["x-stratum-tier"], hard["x-stratum-rule"]) == ("tier_high", "complexity")
    thanks = ask(proxy, "thanks!", session="s1")
    assert (thanks["x-stratum-tier"], thanks["x-stratum-rule"]) == ("tier_high", "session")


def test_thanks_without_a_session_or_with_a_new_one_goes_low(proxy: Proxy) -> None:
    assert ask(proxy, "thanks!")["x-stratum-tier"] == "tier_low"
    assert ask(proxy, "thanks!", session="a-new-one")["x-stratum-tier"] == "tier_low"


def test_a_long_easy_prompt_goes_where_it_fits(proxy: Proxy) -> None:
    assert 13_500 <= len(EASY_LONG) <= 14_500
    routed = ask(proxy, EASY_LONG)
    assert (routed["x-stratum-tier"], routed["x-stratum-rule"]) == ("tier_high", "context")
    assert float(routed["x-stratum-score"]) < 0.65  # easy: only its length sent it up


def test_an_image_goes_to_the_tier_that_sees(proxy: Proxy) -> None:
    routed = ask(proxy, [{"type": "text", "text": "hi"}, IMAGE])
    assert (routed["x-stratum-tier"], routed["x-stratum-rule"]) == ("tier_high", "capability")


def test_a_prompt_that_fits_nowhere_is_refused_and_not_sent(proxy: Proxy, engines: Engines) -> None:
    before = len(engines.low.seen) + len(engines.high.seen)
    with pytest.raises(openai.BadRequestError) as caught:
        ask(proxy, "word " * 40_000)  # 200,000 characters: beyond 32768 tokens
    assert caught.value.code == "context_length_exceeded"
    assert "context window" in caught.value.message
    assert len(engines.low.seen) + len(engines.high.seen) == before
    text = metrics(proxy.url)
    assert metric(text, 'stratum_refusals_total{code="context_length_exceeded"}') >= 1


def test_max_tokens_default_and_cap_reach_the_answering_tier(
    proxy: Proxy, engines: Engines
) -> None:
    ask(proxy, "thanks!")  # OpenWebUI sends no max_tokens: the tier's default is sent
    assert engines.low.seen[-1].json()["max_tokens"] == 512
    ask(proxy, HARD)
    assert engines.high.seen[-1].json()["max_tokens"] == 2048
    ask(proxy, "thanks!", max_tokens=100)  # under the cap: as asked
    assert engines.low.seen[-1].json()["max_tokens"] == 100
    # 5000 would not fit tier_low's 1024 tokens, but its cap (256) makes it fit: the rule
    # and the body use the same number
    routed = ask(proxy, "thanks!", max_completion_tokens=5000)
    assert routed["x-stratum-tier"] == "tier_low"
    body = engines.low.seen[-1].json()
    assert body["max_completion_tokens"] == 256
    assert "max_tokens" not in body  # the client's own name is kept, no second limit added


def test_a_default_is_lowered_to_the_room_left(proxy: Proxy, engines: Engines) -> None:
    # ~31,500 tokens: with tier_high's default of 2048 it fits no tier, but the client asked
    # for no max_tokens, so tier_high gets it with max_tokens lowered to the room left
    routed = ask(proxy, "word " * 21_000)
    assert (routed["x-stratum-tier"], routed["x-stratum-rule"]) == ("tier_high", "context")
    assert 0 < engines.high.seen[-1].json()["max_tokens"] < 2048
    with pytest.raises(openai.BadRequestError, match="context window"):
        ask(proxy, "word " * 21_000, max_tokens=2048)  # asked for: refused, not shortened


def test_failover_gets_the_other_tiers_default(proxy: Proxy, engines: Engines) -> None:
    engines.low.behaviour = "status"  # tier_low answers 500: the request fails over
    try:
        routed = ask(proxy, "thanks!")
    finally:
        engines.low.behaviour = "ok"
    assert routed["x-stratum-failover"] == "tier_low->tier_high"
    assert engines.low.seen[-1].json()["max_tokens"] == 512
    assert engines.high.seen[-1].json()["max_tokens"] == 2048


def test_bad_max_tokens_and_session_are_400s(proxy: Proxy) -> None:
    with pytest.raises(openai.BadRequestError, match="'max_tokens' must be a whole number"):
        ask(proxy, "hi", max_tokens=-1)
    with pytest.raises(openai.BadRequestError, match="x-session-id is longer than 256"):
        ask(proxy, "hi", session="s" * 300)


def test_routing_metrics(proxy: Proxy) -> None:
    ask(proxy, EASY_LONG)
    ask(proxy, [{"type": "text", "text": "hi"}, IMAGE])
    ask(proxy, HARD, session="metrics-session")
    text = metrics(proxy.url)
    assert metric(text, 'stratum_diversions_total{rule="context",tier="tier_high"}') >= 1
    assert metric(text, 'stratum_diversions_total{rule="capability",tier="tier_high"}') >= 1
    assert metric(text, "stratum_sessions") >= 2
    assert metric(text, "stratum_complexity_threshold") == 0.65
    assert metric(text, "stratum_target_high_share") == 0.0
    with urllib.request.urlopen(proxy.url + "/api/status", timeout=5) as response:
        status = response.read().decode()
    assert '"threshold":0.65' in status
    assert '"sessions":' in status


def test_target_high_share_holds_on_sharegpt(
    engines: Engines, tmp_path_factory: pytest.TempPathFactory
) -> None:
    prompts = [p.text for p in build_workload(WorkloadSpec("sharegpt", 0, 400, seed=1)).measured]
    with AdaptiveRouter(RoutingConfig(vram_poll_interval_ms=0)) as static:
        static_share = sum(static.route(p) == "tier_high" for p in prompts[100:]) / 300
    assert static_share < 0.3  # the static threshold sends about 20% of ShareGPT up

    log = tmp_path_factory.mktemp("share") / "proxy.log"
    process, url = start_proxy(engines, log, STRATUM_TARGET_HIGH_SHARE="0.5")
    try:
        with openai.OpenAI(base_url=url + "/v1", api_key="x", max_retries=0) as client:
            proxy = Proxy(url, client)
            tiers = [ask(proxy, text)["x-stratum-tier"] for text in prompts]
        share = tiers[100:].count("tier_high") / 300
        assert 0.40 <= share <= 0.60, share
        text = metrics(url)
        assert metric(text, "stratum_target_high_share") == 0.5
        assert metric(text, "stratum_complexity_threshold") < 0.65  # the live one, lower
    finally:
        stop(process)


def test_status_page_shows_the_live_threshold_sessions_and_context(
    engines: Engines,
    tmp_path: Path,
    browser: Any,  # noqa: F811 (the fixture imported above)
) -> None:
    process, url = start_proxy(engines, tmp_path / "proxy.log", STRATUM_TARGET_HIGH_SHARE="0.3")
    try:
        with openai.OpenAI(base_url=url + "/v1", api_key="x", max_retries=0) as client:
            ask(Proxy(url, client), HARD, session="page-session")
        page = browser.new_page()
        page.goto(url + "/")
        page.wait_for_function(
            "document.querySelector('[data-tier=tier_high] .context').textContent"
            " === '32768 tokens'",
            timeout=10_000,
        )
        summary = page.locator("#summary").inner_text()
        assert "threshold 0.650 (live: tier_high share 0.3)" in summary
        assert "sessions 1" in summary
        assert page.locator("[data-tier=tier_low] .context").inner_text() == "1024 tokens"
        page.screenshot(path=str(tmp_path / "status-page.png"), full_page=True)
        page.close()
    finally:
        stop(process)
