"""The real local stack end to end: `stratum up` with two llama-servers on Gemma 3 270M,
the openai SDK as client, failover when tier_high dies, recovery when it is back."""

from __future__ import annotations

import json
import os
import signal
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import openai
import pytest

from adaptive_router.bench.fake_engine import free_port
from adaptive_router.stack.state import pid_alive
from tests.stack.conftest import RunningStack, busy_port, start_stack, stop, stratum, wait_up

# every test here runs llama-server: the shared stack, or a stack of its own
pytestmark = pytest.mark.engine

HARD = "Prove that the square root of 2 is irrational, step by step."
EASY = "What time is it in Tokyo?"


def ask(client: openai.OpenAI, text: str, **kwargs: object) -> tuple[str, dict[str, str]]:
    raw = client.chat.completions.with_raw_response.create(
        model="gemma4-fast", messages=[{"role": "user", "content": text}], max_tokens=8,
        **kwargs,  # type: ignore[arg-type]
    )  # fmt: skip
    completion = raw.parse()
    content = completion.choices[0].message.content if not kwargs.get("stream") else ""
    return content or "", dict(raw.headers)


@pytest.fixture
def client(stack: RunningStack) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=stack.url + "/v1", api_key="unused", max_retries=0) as client:
        yield client


def test_easy_prompt_low_hard_prompt_high(client: openai.OpenAI) -> None:
    _, easy = ask(client, EASY)
    _, hard = ask(client, HARD)
    assert easy["x-stratum-tier"] == "tier_low"
    assert hard["x-stratum-tier"] == "tier_high"
    assert hard["x-stratum-rule"] == "complexity"


def test_status_lists_every_part_healthy(stack: RunningStack) -> None:
    done = stratum("status", "--run-dir", str(stack.run_dir))
    assert done.returncode == 0, done.stdout + done.stderr
    for part in ("router", "tier_low", "tier_high"):
        assert f"ok    {part}" in done.stdout


def test_second_up_is_refused(stack: RunningStack) -> None:
    done = stratum("up", "--run-dir", str(stack.run_dir), "--port", str(free_port()))
    assert done.returncode == 1
    assert "a stack is already running" in done.stderr
    assert "stratum down" in done.stderr


def test_tier_high_dies_requests_fail_over_then_routing_returns(
    stack: RunningStack, client: openai.OpenAI
) -> None:
    old_pid = stack.engine_pid("tier_high")
    os.kill(old_pid, signal.SIGKILL)
    tiers = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        _, headers = ask(client, HARD)  # must never raise: no client error
        tiers.append(headers["x-stratum-tier"])
        if headers["x-stratum-tier"] == "tier_high" and "tier_low" in tiers:
            break
        time.sleep(0.3)
    assert tiers[0] == "tier_low", "with tier_high dead, the hard prompt failed over"
    assert tiers[-1] == "tier_high", f"routing never returned to tier_high: {tiers}"
    assert stack.engine_pid("tier_high") != old_pid  # the stack restarted the engine
    assert "tier_high engine exited" in stack.output.read_text()


def test_down_stops_everything_and_frees_ports(tmp_path: Path) -> None:
    running = start_stack(tmp_path)
    try:
        seconds = wait_up(running)
        pids = [p.pid for p in running.state().parts if p.pid]
        assert len(pids) == 3
        done = stratum("down", "--run-dir", str(running.run_dir))
        assert done.returncode == 0, done.stderr
        running.process.wait(30)
        for pid in pids:
            deadline = time.monotonic() + 10
            while pid_alive(pid) and time.monotonic() < deadline:
                time.sleep(0.1)
            assert not pid_alive(pid), f"process {pid} outlived `stratum down`"
        with pytest.raises(urllib.error.URLError, match="refused"):
            urllib.request.urlopen(running.url + "/health", timeout=1)
        assert "stopped" in running.output.read_text()
        assert seconds < 60
    finally:
        stop(running)


def test_port_in_use_is_a_clear_error_and_leaves_nothing(tmp_path: Path) -> None:
    with busy_port() as port:
        done = stratum(
            "up", "--run-dir", str(tmp_path), "--engine-high-port", str(port),
            "--port", str(free_port()), "--engine-low-port", str(free_port()),
        )  # fmt: skip
    assert done.returncode == 1
    assert f"tier_high engine: port {port} on 127.0.0.1 is already in use" in done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "stack.json").exists()


def test_model_that_fails_to_load_is_reported(tmp_path: Path) -> None:
    bad = tmp_path / "broken.gguf"
    bad.write_bytes(b"GGUF but not really" * 100)
    done = stratum("up", "--run-dir", str(tmp_path / "run"), "--engine-high-model", str(bad),
                   "--port", str(free_port()), "--engine-low-port", str(free_port()),
                   "--engine-high-port", str(free_port()), "--ready-timeout-s", "60")  # fmt: skip
    assert done.returncode == 1
    assert "llama-server on port" in done.stderr
    assert "exited with code" in done.stderr
    assert "Traceback" not in done.stderr
    assert "stopped" in done.stdout  # the tier_low engine it had started was stopped


def test_engine_signals_reach_metrics_and_status(stack: RunningStack) -> None:
    deadline = time.monotonic() + 10
    text = ""
    while time.monotonic() < deadline:
        with urllib.request.urlopen(stack.url + "/metrics", timeout=5) as response:
            text = response.read().decode()
        if 'stratum_engine_healthy{tier="tier_high"} 1.0' in text:
            break
        time.sleep(0.5)
    assert 'stratum_engine_healthy{tier="tier_low"} 1.0' in text
    assert 'stratum_engine_healthy{tier="tier_high"} 1.0' in text
    assert 'stratum_engine_running{tier="tier_low"}' in text
    assert 'stratum_engine_waiting{tier="tier_high"}' in text
    with urllib.request.urlopen(stack.url + "/api/status", timeout=5) as response:
        engine = json.loads(response.read())["tiers"]["tier_low"]["engine"]
    assert engine["engine"] == "llama.cpp"
    assert engine["slots_total"] == 4
