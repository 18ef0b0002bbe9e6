"""Prometheus metrics of one proxy app, in its own registry (no process-wide globals).

Request-path metrics are counters and histograms updated as requests go; live values (GPU
memory and utilisation, TTFT moving averages, engine load, upstream circuit state) are read
at scrape time from the router's published state and the pools, so they cost nothing per
request.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from adaptive_router.proxy.upstream import TierPool
from adaptive_router.router import RouterState
from adaptive_router.tiers import TIERS, Tier

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 300)
_SCORE_BUCKETS = tuple(round(0.05 * i, 2) for i in range(1, 21))
DIVERTING_RULES = frozenset({"context", "capability"})  # counted in stratum_diversions


class ProxyMetrics:
    """All metrics of one app. ``render()`` gives the Prometheus text format."""

    def __init__(self, state: Callable[[], RouterState], pools: Mapping[Tier, TierPool]) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.decisions = Counter(
            "stratum_decisions", "Routing decisions by tier and deciding rule.",
            ["tier", "rule"], registry=r,
        )  # fmt: skip
        self.score = Histogram(
            "stratum_complexity_score", "Complexity score of routed prompts.",
            buckets=_SCORE_BUCKETS, registry=r,
        )  # fmt: skip
        self.requests = Counter(
            "stratum_requests", "Answered requests by the tier that answered and HTTP status.",
            ["tier", "status"], registry=r,
        )  # fmt: skip
        self.ttft = Histogram(
            "stratum_ttft_seconds", "Time to first token of streamed answers, per tier.",
            ["tier"], buckets=_LATENCY_BUCKETS, registry=r,
        )  # fmt: skip
        self.duration = Histogram(
            "stratum_request_duration_seconds", "Whole request time, per tier.",
            ["tier"], buckets=_LATENCY_BUCKETS, registry=r,
        )  # fmt: skip
        self.upstream_errors = Counter(
            "stratum_upstream_errors", "Upstream failures by tier and kind.",
            ["tier", "kind"], registry=r,
        )  # fmt: skip
        self.failovers = Counter(
            "stratum_failovers", "Requests retried on the other tier.",
            ["from_tier", "to_tier"], registry=r,
        )  # fmt: skip
        self.in_flight = Gauge(
            "stratum_in_flight", "Requests being answered, per tier.", ["tier"], registry=r
        )
        self.client_errors = Counter(
            "stratum_client_errors", "Requests refused as the client's mistake, by status.",
            ["status"], registry=r,
        )  # fmt: skip
        self.diversions = Counter(
            "stratum_diversions", "Requests the context and capability rules sent to the tier "
            "that can take them.", ["rule", "tier"], registry=r,
        )  # fmt: skip
        self.refusals = Counter(
            "stratum_refusals", "Requests no tier could take, refused with a 400, by error code "
            "(context_length_exceeded, unsupported_capability).", ["code"], registry=r,
        )  # fmt: skip
        for tier in TIERS:
            self.in_flight.labels(tier)
        r.register(_LiveCollector(state, pools))

    def render(self) -> bytes:
        return generate_latest(self.registry)


class _LiveCollector(Collector):
    """Reads the router's and upstreams' current state when Prometheus scrapes."""

    def __init__(self, state: Callable[[], RouterState], pools: Mapping[Tier, TierPool]) -> None:
        self._state = state
        self._pools = pools
        self._clock: Callable[[], float] = time.monotonic

    def collect(self) -> Iterator[Metric]:
        state = self._state()
        snapshot = state.gpu
        yield GaugeMetricFamily(
            "stratum_gpu_monitor_available", "1 when NVML readings are available.",
            value=1.0 if snapshot.available else 0.0,
        )  # fmt: skip
        free = GaugeMetricFamily("stratum_gpu_free_bytes", "Free GPU memory.", labels=["gpu"])
        util = GaugeMetricFamily(
            "stratum_gpu_utilization_ratio", "GPU utilisation, 0-1.", labels=["gpu"]
        )
        for gpu in snapshot.gpus if snapshot.available else ():
            free.add_metric([str(gpu.index)], gpu.free_gb * 1024**3)
            util.add_metric([str(gpu.index)], gpu.util_pct / 100.0)
        yield free
        yield util
        ema = GaugeMetricFamily(
            "stratum_ttft_ema_seconds", "TTFT moving average the SLA rule uses.", labels=["tier"]
        )
        for tier, latency in state.latency.items():
            if latency.ttft_ms is not None:
                ema.add_metric([tier], latency.ttft_ms / 1000.0)
        yield ema
        up = GaugeMetricFamily(
            "stratum_upstream_up", "1 while an upstream is in rotation.",
            labels=["tier", "upstream"],
        )  # fmt: skip
        now = self._clock()
        for tier, pool in self._pools.items():
            for upstream in pool.upstreams:
                up.add_metric([tier, upstream.base_url], float(upstream.usable(now)))
        yield up
        yield from _engines(state)
        yield from _routing(state)


def _routing(state: RouterState) -> Iterator[Metric]:
    """The threshold in force, the session store and what each tier can take."""
    yield GaugeMetricFamily(
        "stratum_complexity_threshold", "Complexity threshold in force (live with a target "
        "share).", value=state.threshold,
    )  # fmt: skip
    yield GaugeMetricFamily(
        "stratum_target_high_share", "Share of complexity-decided requests meant for "
        "tier_high (0 = off: the static threshold holds).",
        value=state.config.target_high_share,
    )  # fmt: skip
    yield GaugeMetricFamily(
        "stratum_sessions", "Sessions the router remembers (pinned to a tier).",
        value=float(state.sessions),
    )  # fmt: skip
    context = GaugeMetricFamily(
        "stratum_tier_context_tokens", "Context window the context rule uses, per tier "
        "(absent while unknown).", labels=["tier"],
    )  # fmt: skip
    for tier, facts in state.tiers.items():
        if facts.context_tokens is not None:
            context.add_metric([tier], float(facts.context_tokens))
    yield context


def _engines(state: RouterState) -> Iterator[Metric]:
    """Each polled tier's engine health and load."""
    healthy = GaugeMetricFamily(
        "stratum_engine_healthy", "1 while a tier's engine answers /health.", labels=["tier"]
    )
    running = GaugeMetricFamily(
        "stratum_engine_running", "Requests the tier's engines are processing.",
        labels=["tier"],
    )  # fmt: skip
    waiting = GaugeMetricFamily(
        "stratum_engine_waiting", "Requests queued in the tier's engines.", labels=["tier"]
    )
    kv = GaugeMetricFamily(
        "stratum_engine_kv_usage_ratio", "Fullest KV cache of the tier's engines, 0-1.",
        labels=["tier"],
    )  # fmt: skip
    for tier, load in state.engines.items():
        for family, value in (
            (healthy, None if load.healthy is None else float(load.healthy)),
            (running, load.running),
            (waiting, load.waiting),
            (kv, load.kv_usage),
        ):
            if value is not None:
                family.add_metric([tier], value)
    yield from (healthy, running, waiting, kv)
