"""A tier with two replicas: `stratum up` starts both, records both, and the router uses both."""

from __future__ import annotations

import socket
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import openai
import pytest

from adaptive_router.bench.fake_engine import free_port
from tests.stack.conftest import shut_down, start_stack, stratum, wait_up

pytestmark = pytest.mark.engine


def tokens_predicted(url: str) -> float:
    """Tokens an engine has generated, from its Prometheus /metrics."""
    with urllib.request.urlopen(url.removesuffix("/v1") + "/metrics", timeout=5) as response:
        text = response.read().decode()
    line = next(x for x in text.splitlines() if x.startswith("llamacpp:tokens_predicted_total"))
    return float(line.split()[-1])


def two_free_ports() -> int:
    """A port p with p + 1 free too (replica 2 listens on the next port)."""
    for _ in range(50):
        p = free_port()
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", p + 1))
            except OSError:
                continue
        return p
    raise AssertionError("no two consecutive free ports")


def port(url: str) -> int:
    return int(url.rsplit(":", 1)[1].split("/")[0])


def test_two_replicas_of_tier_low_are_started_recorded_and_used(tmp_path: Path) -> None:
    low = str(two_free_ports())  # given last, it wins over start_stack's own
    running = start_stack(
        tmp_path,
        "--engine-low-replicas",
        "2",
        "--engine-low-parallel",
        "1",
        "--engine-low-port",
        low,
    )
    try:
        wait_up(running)
        parts = {p.name: p for p in running.state().parts}
        assert {"tier_low", "tier_low-2", "tier_high"} <= set(parts)
        first, second = parts["tier_low"], parts["tier_low-2"]
        assert first.pid is not None
        assert second.pid not in (None, first.pid)
        assert port(second.url) == port(first.url) + 1
        assert Path(second.log or "").name == "tier_low-2.log"
        status = stratum("status", "--run-dir", str(running.run_dir))
        assert status.returncode == 0, status.stdout + status.stderr
        assert "tier_low-2" in status.stdout

        def ask(i: int) -> str:
            with openai.OpenAI(base_url=running.url + "/v1", api_key="u", max_retries=0) as c:
                raw = c.chat.completions.with_raw_response.create(
                    model="gemma4-fast", max_tokens=24,
                    messages=[{"role": "user", "content": f"Say hello, number {i}."}],
                    extra_headers={"x-stratum-tier": "low"},
                )  # fmt: skip
            return raw.headers["x-stratum-tier"]

        with ThreadPoolExecutor(4) as pool:  # two at a time per replica's single slot
            assert set(pool.map(ask, range(8))) == {"tier_low"}
        assert tokens_predicted(first.url) > 0
        assert tokens_predicted(second.url) > 0  # the router balanced the tier over both replicas
    finally:
        shut_down(running)
