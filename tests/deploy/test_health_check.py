"""scripts/health-check.sh against the real local stack and a real Prometheus; start.sh's first
check where no Docker engine runs (the test machines have none)."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from adaptive_router.bench.fake_engine import free_port
from tests.deploy.conftest import REPO, Prometheus
from tests.stack.conftest import RunningStack


def script(name: str, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(REPO / "scripts" / name), *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **env},
    )


def test_running_services_pass(stack: RunningStack, prometheus: Prometheus) -> None:
    engines = {p.name: p.url.removesuffix("/v1") for p in stack.state().parts}
    done = script("health-check.sh", "router", "tier_low", "tier_high", "prometheus",
                  STRATUM_URL=stack.url, TIER_LOW_URL=engines["tier_low"],
                  TIER_HIGH_URL=engines["tier_high"], PROMETHEUS_URL=prometheus.url)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.splitlines() == [
        f"ok    router      {stack.url}/health  (both tiers ready)",
        f"ok    tier_low    {engines['tier_low']}/health",
        f"ok    tier_high   {engines['tier_high']}/health",
        f"ok    prometheus  {prometheus.url}/-/ready",
    ]


def test_a_service_that_is_down_fails_with_one_clear_line(stack: RunningStack) -> None:
    litellm = f"http://127.0.0.1:{free_port()}"
    done = script("health-check.sh", "router", "litellm", STRATUM_URL=stack.url,
                  LITELLM_URL=litellm)  # fmt: skip
    assert done.returncode == 1
    lines = done.stdout.splitlines()
    assert lines[0].startswith("ok    router")
    assert lines[1].startswith(f"FAIL  litellm     {litellm}/health/liveliness  (Failed to connect")


def test_an_unknown_service_is_named() -> None:
    done = script("health-check.sh", "ollama")
    assert done.returncode == 2
    assert "unknown service 'ollama'" in done.stderr


def test_start_stops_at_its_first_check_without_a_docker_engine() -> None:
    docker = shutil.which("docker")
    if docker and subprocess.run([docker, "info"], capture_output=True).returncode == 0:
        pytest.skip("a Docker engine runs here")
    done = script("start.sh")
    assert done.returncode == 1
    expected = "the docker daemon does not answer" if docker else "docker is not installed"
    assert done.stderr.startswith(f"error: {expected}"), done.stderr
