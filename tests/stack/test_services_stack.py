"""`stratum up --with litellm,prometheus` for real: the openai SDK calls LiteLLM, which is
answered via Stratum by the real llama-servers; Prometheus scrapes them all; the services
are supervised like the engines (status, restart after a kill, `stratum down`).

The first run installs LiteLLM into its own venv (about a minute); OpenWebUI, 7 GB, has its
own test (test_openwebui.py, run by scripts/test-services.sh)."""

from __future__ import annotations

import json
import os
import signal
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import openai
import pytest

from adaptive_router.bench.fake_engine import free_port
from adaptive_router.stack.state import pid_alive
from tests.stack.conftest import (
    RunningStack,
    busy_port,
    shut_down,
    start_stack,
    stratum,
    wait_up,
)

pytestmark = [pytest.mark.engine, pytest.mark.services]

KEY = "sk-stratum-test-master-key"
INSTALL_S = 900  # the first run installs LiteLLM's venv


@pytest.fixture(scope="module")
def services(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RunningStack, int, int]]:
    """A stack with LiteLLM and Prometheus on free ports; LITELLM_MASTER_KEY in its env."""
    litellm, prometheus = free_port(), free_port()
    with pytest.MonkeyPatch.context() as env:
        env.setenv("LITELLM_MASTER_KEY", KEY)
        running = start_stack(
            tmp_path_factory.mktemp("services"), "--with", "litellm,prometheus",
            "--services-litellm-port", str(litellm),
            "--services-prometheus-port", str(prometheus),
        )  # fmt: skip
    try:
        wait_up(running, INSTALL_S)
        yield running, litellm, prometheus
    finally:
        if running.process.poll() is None:  # else test_down_stops_the_services_too stopped it
            shut_down(running)


def client(port: int, key: str = KEY) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key=key, max_retries=0)


def decisions(stack: RunningStack) -> float:
    with urllib.request.urlopen(stack.url + "/metrics", timeout=5) as response:
        lines = response.read().decode().splitlines()
    return sum(float(x.split()[-1]) for x in lines if x.startswith("stratum_decisions_total{"))


def test_litellm_answers_via_stratum_with_each_alias(
    services: tuple[RunningStack, int, int],
) -> None:
    _stack, port, _ = services
    forced = {"gemma4-smart": "tier_high", "gemma4-lite": "tier_low"}
    with client(port) as sdk:
        for model in ("gemma4-fast", "gemma4-smart", "gemma4-lite"):
            raw = sdk.chat.completions.with_raw_response.create(
                model=model, messages=[{"role": "user", "content": "Say hi"}], max_tokens=8
            )
            answer = raw.parse()
            assert answer.choices[0].finish_reason in ("stop", "length")
            assert answer.usage is not None
            assert answer.usage.completion_tokens > 0
            # LiteLLM passes Stratum's headers on under its own prefix
            tier = raw.headers["llm_provider-x-stratum-tier"]
            assert tier == forced.get(model, tier)
            assert tier in ("tier_low", "tier_high")
        stream = sdk.chat.completions.create(
            model="gemma4-fast", messages=[{"role": "user", "content": "Count"}], max_tokens=8,
            stream=True,
        )  # fmt: skip
        text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
        assert text


def test_a_wrong_key_never_reaches_stratum(services: tuple[RunningStack, int, int]) -> None:
    stack, port, _ = services
    before = decisions(stack)
    with client(port, "sk-wrong") as sdk, pytest.raises(openai.APIStatusError) as refused:
        sdk.chat.completions.create(
            model="gemma4-fast", messages=[{"role": "user", "content": "hi"}], max_tokens=4
        )
    # without LiteLLM's database, an unknown key is a 400 "No connected db." (401 with one)
    assert refused.value.status_code in (400, 401)
    assert decisions(stack) == before


def test_prometheus_scrapes_the_router_and_both_engines(
    services: tuple[RunningStack, int, int],
) -> None:
    _, _, port = services
    deadline = time.monotonic() + 60
    while True:
        url = f"http://127.0.0.1:{port}/api/v1/targets"
        with urllib.request.urlopen(url, timeout=5) as response:
            targets = json.load(response)["data"]["activeTargets"]
        health = {(t["labels"]["job"], t["labels"].get("tier")): t["health"] for t in targets}
        if set(health.values()) == {"up"} or time.monotonic() > deadline:
            break
        time.sleep(1)
    assert health == {
        ("stratum", None): "up", ("engine", "tier_low"): "up", ("engine", "tier_high"): "up"
    }  # fmt: skip


def test_status_shows_the_services(services: tuple[RunningStack, int, int]) -> None:
    stack, litellm, prometheus = services
    done = stratum("status", "--run-dir", str(stack.run_dir))
    assert done.returncode == 0, done.stdout
    assert f"ok    litellm     http://127.0.0.1:{litellm}" in done.stdout
    assert f"ok    prometheus  http://127.0.0.1:{prometheus}" in done.stdout


def test_a_killed_service_is_restarted(services: tuple[RunningStack, int, int]) -> None:
    stack, port, _ = services
    old = stack.engine_pid("litellm")
    os.kill(old, signal.SIGKILL)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        new = stack.engine_pid("litellm")
        if new != old and stratum("status", "--run-dir", str(stack.run_dir)).returncode == 0:
            break
        time.sleep(1)
    assert new != old, stack.output.read_text()
    assert "litellm exited with code -9; restarting" in stack.output.read_text()
    with client(port) as sdk:  # and it answers again
        sdk.chat.completions.create(
            model="gemma4-lite", messages=[{"role": "user", "content": "hi"}], max_tokens=4
        )


def test_down_stops_the_services_too(services: tuple[RunningStack, int, int]) -> None:
    stack, _, _ = services
    pids = {part.name: part.pid for part in stack.state().parts}
    done = stratum("down", "--run-dir", str(stack.run_dir))
    assert done.returncode == 0, done.stderr
    stack.process.wait(30)
    deadline = time.monotonic() + 10
    while any(pid_alive(p) for p in pids.values() if p) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert {name for name, pid in pids.items() if pid and pid_alive(pid)} == set()
    assert {"litellm", "prometheus"} <= set(pids)
    assert "stopped: tier_low engine, tier_high engine, litellm, prometheus and router" in (
        stack.output.read_text()
    )


def test_a_service_port_in_use_stops_up_before_anything_starts(tmp_path: Path) -> None:
    with busy_port() as port:
        running = start_stack(tmp_path, "--with", "prometheus", "--services-prometheus-port",
                              str(port))  # fmt: skip
        assert running.process.wait(60) == 1
    output = running.output.read_text()
    assert f"prometheus: port {port} on 127.0.0.1 is already in use" in output, output
    assert "--services-prometheus-port" in output
    assert "starting" not in output
