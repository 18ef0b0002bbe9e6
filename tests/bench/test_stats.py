"""Percentiles against known values, and the per target x level aggregate."""

from __future__ import annotations

import math
import random

import pytest

from adaptive_router.bench.stats import Distribution, aggregate, mean, percentile, tier_shares
from tests.bench.conftest import record


@pytest.mark.parametrize(
    ("values", "q", "expected"),
    [
        ([5.0], 50, 5.0),
        ([5.0], 99, 5.0),
        ([1.0, 2.0, 3.0, 4.0], 50, 2.5),
        ([1.0, 2.0, 3.0, 4.0], 0, 1.0),
        ([1.0, 2.0, 3.0, 4.0], 100, 4.0),
        ([10.0, 20.0, 30.0], 99, 29.8),
        ([4.0, 1.0, 3.0, 2.0], 25, 1.75),  # unsorted input
        ([float(v) for v in range(1, 101)], 95, 95.05),
        ([float(v) for v in range(1, 101)], 99, 99.01),
    ],
)
def test_percentile_known_values(values: list[float], q: float, expected: float) -> None:
    assert percentile(values, q) == pytest.approx(expected)


def test_percentile_empty_is_nan_and_bad_q_raises() -> None:
    assert math.isnan(percentile([], 50))
    assert math.isnan(mean([]))
    with pytest.raises(ValueError, match=r"within 0\.\.100"):
        percentile([1.0], 101)


def test_percentile_matches_numpy_linear() -> None:
    np = pytest.importorskip("numpy")  # a cross-check only: the tool does not need numpy
    rng = random.Random(7)
    values = [rng.expovariate(1.0) for _ in range(997)]
    for q in (1, 50, 95, 99, 99.9):
        assert percentile(values, q) == pytest.approx(float(np.percentile(values, q)))


def test_distribution_of() -> None:
    d = Distribution.of([1.0, 2.0, 3.0])
    assert (d.p50, d.mean, d.count) == (2.0, 2.0, 3)


def test_aggregate_leaves_out_warmup_and_errors() -> None:
    records = [
        record(ttft=0.1, e2e=1.0, tokens=11, tier="tier_low", itl=(0.1, 0.1)),
        record(ttft=0.3, e2e=2.3, tokens=21, tier="tier_high", itl=(0.2,)),
        record(ttft=9.0, e2e=9.0, tokens=50, tier="tier_high", warmup=True),
        record(ttft=None, e2e=0.5, tokens=0, error="HTTP 503: no tier"),
    ]
    agg = aggregate("t", 1.0, records, wall_s=4.0)
    assert (agg.requests, agg.ok, agg.errors) == (3, 2, 1)
    assert agg.error_kinds == {"HTTP 503": 1}
    assert agg.ttft.p50 == pytest.approx(0.2)
    assert agg.tpot.p50 == pytest.approx(((1.0 - 0.1) / 10 + (2.3 - 0.3) / 20) / 2)
    assert agg.itl.count == 3
    assert agg.output_tokens_per_s == pytest.approx(32 / 4.0)
    assert agg.requests_per_s == pytest.approx(2 / 4.0)
    assert agg.tier_share == {"tier_high": 0.5, "tier_low": 0.5}


def test_aggregate_to_dict_turns_nan_into_none() -> None:
    agg = aggregate("t", 1.0, [record(error="timeout: slow", ttft=None)], wall_s=1.0)
    data = agg.to_dict()
    assert data["ttft"]["p50"] is None
    assert data["errors"] == 1


def test_tier_shares_without_headers_is_empty() -> None:
    assert tier_shares([record(), record()]) == {}
    assert tier_shares([record(tier="tier_low"), record()]) == {"tier_low": 0.5}


def test_tpot_needs_two_tokens() -> None:
    assert record(tokens=1).tpot_s is None
    assert record(ttft=0.5, e2e=1.5, tokens=3).tpot_s == pytest.approx(0.5)
