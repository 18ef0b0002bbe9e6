"""Percentiles and the per target x level aggregates of a run (pure Python, no numpy).

Percentiles interpolate linearly between closest ranks, as ``numpy.percentile`` does by
default (method "linear"), so the figures match what a notebook would compute:

    >>> percentile([1.0, 2.0, 3.0, 4.0], 50)
    2.5
    >>> percentile([10.0, 20.0, 30.0], 99)
    29.8
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from adaptive_router.bench.records import RequestRecord

QUANTILES = (50, 95, 99)


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0-100) of ``values``; NaN for an empty sequence."""
    if not 0.0 <= q <= 100.0:
        raise ValueError(f"percentile must be within 0..100, got {q}")
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100.0
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def mean(values: Sequence[float]) -> float:
    """The arithmetic mean; NaN for an empty sequence."""
    return sum(values) / len(values) if values else math.nan


@dataclass(frozen=True, slots=True)
class Distribution:
    """p50/p95/p99 and mean of one metric, in seconds; NaN when there were no samples."""

    p50: float
    p95: float
    p99: float
    mean: float
    count: int

    @classmethod
    def of(cls, values: Sequence[float]) -> Distribution:
        p50, p95, p99 = (percentile(values, q) for q in QUANTILES)
        return cls(p50, p95, p99, mean(values), len(values))


@dataclass(frozen=True, slots=True)
class Aggregate:
    """What one target did at one load level (warm-up requests left out)."""

    target: str
    level: float
    requests: int
    ok: int
    errors: int
    ttft: Distribution
    tpot: Distribution
    itl: Distribution
    e2e: Distribution
    wall_s: float
    output_tokens_per_s: float
    requests_per_s: float
    mean_output_tokens: float
    tier_share: dict[str, float] = field(default_factory=dict)
    failovers: int = 0
    error_kinds: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Plain data for JSON (NaN becomes None)."""
        data: dict[str, Any] = _nan_to_none(asdict(self))
        return data


def aggregate(
    target: str, level: float, records: Iterable[RequestRecord], wall_s: float
) -> Aggregate:
    """Summarize the measured (non-warm-up) records of one target at one level."""
    measured = [r for r in records if not r.warmup]
    ok = [r for r in measured if r.error is None]
    tokens = sum(r.output_tokens for r in ok)
    return Aggregate(
        target=target,
        level=level,
        requests=len(measured),
        ok=len(ok),
        errors=len(measured) - len(ok),
        ttft=Distribution.of([r.ttft_s for r in ok if r.ttft_s is not None]),
        tpot=Distribution.of([r.tpot_s for r in ok if r.tpot_s is not None]),
        itl=Distribution.of([gap for r in ok for gap in r.itl_s]),
        e2e=Distribution.of([r.e2e_s for r in ok if r.e2e_s is not None]),
        wall_s=wall_s,
        output_tokens_per_s=tokens / wall_s if wall_s > 0 else math.nan,
        requests_per_s=len(ok) / wall_s if wall_s > 0 else math.nan,
        mean_output_tokens=mean([float(r.output_tokens) for r in ok]),
        tier_share=tier_shares(ok),
        failovers=sum(r.failover for r in measured),
        error_kinds=dict(Counter(_error_kind(r.error) for r in measured if r.error)),
    )


def tier_shares(records: Sequence[RequestRecord]) -> dict[str, float]:
    """Share of answered requests per ``x-stratum-tier`` value; empty when none had one."""
    tiers = Counter(r.tier for r in records if r.tier)
    return {tier: n / len(records) for tier, n in sorted(tiers.items())} if tiers else {}


def _error_kind(error: str) -> str:
    return error.split(":", 1)[0]


def _nan_to_none(value: Any) -> Any:
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {k: _nan_to_none(v) for k, v in value.items()}
    return value
