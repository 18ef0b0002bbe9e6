"""Every Grafana dashboard query, evaluated by a real Prometheus scraping the real local stack
(two llama-servers and the router) after real traffic from the openai SDK.

Each query must evaluate without an error, and every panel must show data, except the few
listed in ``CANNOT_FILL_HERE`` with the reason. Counters that only exist after their first
event (failovers, upstream errors) carry an ``or vector(0)`` line in their panel, so those
panels read 0 on a healthy stack instead of "No data"."""

from __future__ import annotations

import json
import math
import re
import time
from collections.abc import Iterator
from typing import Any

import openai
import pytest

from tests.deploy.conftest import REPO, Prometheus
from tests.stack.conftest import RunningStack

DASHBOARDS = sorted((REPO / "deploy" / "grafana" / "dashboards").glob("*.json"))
# Grafana fills $__rate_interval in from the scrape interval; our Prometheus scrapes every 1 s.
RATE_WINDOW = "1m"
# (dashboard uid, panel title) -> why the local stack cannot fill it
CANNOT_FILL_HERE = {
    ("stratum-engines", "KV cache usage"): "llama.cpp since PR #13660 exports no KV gauge, "
    "and the local stack runs no vLLM or SGLang",
    ("stratum-gpu", "Free VRAM"): "no GPU: NVML reads nothing",
    ("stratum-gpu", "GPU utilisation"): "no GPU: NVML reads nothing",
}


def panels() -> Iterator[tuple[str, dict[str, Any]]]:
    for path in DASHBOARDS:
        board = json.loads(path.read_text())
        for panel in board["panels"]:
            yield board["uid"], panel


def promql(expr: str) -> str:
    expr = expr.replace("$__rate_interval", RATE_WINDOW)
    assert "$" not in expr, f"a Grafana variable the test does not fill in: {expr}"
    return expr


@pytest.fixture(scope="module")
def after_traffic(prometheus: Prometheus, stack: RunningStack) -> Prometheus:
    """Send requests to each model alias, streamed and not, over several scrapes, then wait
    until Prometheus has seen them."""
    with openai.OpenAI(base_url=stack.url + "/v1", api_key="unused", max_retries=0) as client:
        for round_ in range(3):
            for model in ("gemma4-fast", "gemma4-smart", "gemma4-lite"):
                messages = [{"role": "user", "content": f"Say hello, number {round_}."}]
                client.chat.completions.create(model=model, messages=messages, max_tokens=8)  # type: ignore[arg-type]
                stream = client.chat.completions.create(
                    model=model,
                    messages=messages,
                    max_tokens=8,
                    stream=True,  # type: ignore[arg-type]
                )
                assert any(chunk.choices for chunk in stream)
            time.sleep(1.5)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        seen = prometheus.query("sum(stratum_requests_total)")
        if seen and float(seen[0]["value"][1]) >= 18:
            time.sleep(2)  # one more scrape of every target
            return prometheus
        time.sleep(0.5)
    raise AssertionError(f"Prometheus did not see the 18 requests: {seen}")


def test_every_target_is_up(after_traffic: Prometheus) -> None:
    targets = after_traffic.api("targets")["activeTargets"]
    jobs = sorted((t["labels"]["job"], t["labels"].get("tier", "")) for t in targets)
    assert jobs == [("engine", "tier_high"), ("engine", "tier_low"), ("stratum", "")]
    assert all(t["health"] == "up" for t in targets), targets


def test_the_alert_rules_are_loaded_and_quiet(after_traffic: Prometheus) -> None:
    groups = after_traffic.api("rules")["groups"]
    rules = [rule for group in groups for rule in group["rules"]]
    assert len(rules) == 6
    assert all(rule["health"] == "ok" for rule in rules), rules
    firing = [rule["name"] for rule in rules if rule["state"] != "inactive"]
    assert firing == []


@pytest.mark.parametrize(
    ("uid", "panel"), list(panels()), ids=[f"{u}:{p['title']}" for u, p in panels()]
)
def test_panel_queries_evaluate_and_have_data(
    after_traffic: Prometheus, uid: str, panel: dict[str, Any]
) -> None:
    assert panel["targets"], "a panel without a query"
    found = [after_traffic.query(promql(t["expr"])) for t in panel["targets"]]
    values = [float(sample["value"][1]) for result in found for sample in result]
    has_data = any(not math.isnan(v) for v in values)
    reason = CANNOT_FILL_HERE.get((uid, panel["title"]))
    if reason is None:
        assert has_data, f"{panel['title']}: no data from {[t['expr'] for t in panel['targets']]}"
    elif uid == "stratum-gpu":
        available = after_traffic.query("stratum_gpu_monitor_available")
        assert available[0]["value"][1] == "0", "NVML works here: the GPU panels must fill"
        assert not has_data


def test_no_dashboard_names_a_metric_nothing_exports() -> None:
    """Typos in metric names evaluate fine and stay empty forever: every name the dashboards
    use must be one Stratum exports or one of the engines' recorded pages has."""
    known = exported_names()
    used = {
        name
        for _, panel in panels()
        for target in panel["targets"]
        for name in re.findall(r"[a-z_]+:[a-z_:]+|stratum_[a-z_]+|\bup\b", target["expr"])
    }
    assert used - known == set()


def exported_names() -> set[str]:
    names = {"up"}
    for page in (REPO / "tests" / "signals" / "samples").glob("*.txt"):
        names |= set(re.findall(r"^# TYPE (\S+)", page.read_text(), re.MULTILINE))
    source = (REPO / "src" / "adaptive_router" / "proxy" / "metrics.py").read_text()
    for name in re.findall(r'"(stratum_[a-z_]+)"', source):
        names |= {name, f"{name}_total", f"{name}_bucket"}
    return names
