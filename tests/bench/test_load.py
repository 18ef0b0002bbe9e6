"""Closed loop and Poisson arrivals, without HTTP (``send`` is a stub)."""

from __future__ import annotations

import asyncio
import random
import statistics
from itertools import islice, pairwise

import pytest

from adaptive_router.bench.client import Job
from adaptive_router.bench.config import Target
from adaptive_router.bench.load import closed_loop, open_loop, poisson_offsets
from adaptive_router.bench.records import RequestRecord
from adaptive_router.bench.workloads import Prompt
from tests.bench.conftest import record

TARGET = Target("t", "http://x/v1")


def make_job(index: int) -> Job:
    return Job(TARGET, Prompt(f"p:{index}", "hi", "easy"), 1.0, index, False)


class Stub:
    """A ``send`` that takes ``delay_s`` and tracks how many requests overlap."""

    def __init__(self, delay_s: float = 0.01) -> None:
        self.delay_s = delay_s
        self.in_flight = self.peak = 0
        self.indices: list[int] = []

    async def __call__(self, job: Job) -> RequestRecord:
        self.in_flight += 1
        self.peak = max(self.peak, self.in_flight)
        self.indices.append(job.index)
        await asyncio.sleep(self.delay_s)
        self.in_flight -= 1
        return record()


@pytest.mark.parametrize("rate", [0.5, 4.0, 50.0])
def test_poisson_mean_rate_within_tolerance(rate: float) -> None:
    n = 20_000
    offsets = list(islice(poisson_offsets(rate, random.Random(3)), n))
    assert offsets[0] == 0.0
    observed = (n - 1) / offsets[-1]
    assert observed == pytest.approx(rate, rel=0.03)  # 3 sigma is about 2% at n = 20,000
    gaps = [b - a for a, b in pairwise(offsets)]
    assert statistics.stdev(gaps) == pytest.approx(1 / rate, rel=0.05)  # exponential: sd = mean


def test_poisson_is_seeded() -> None:
    first = list(islice(poisson_offsets(2.0, random.Random(9)), 50))
    assert first == list(islice(poisson_offsets(2.0, random.Random(9)), 50))
    assert first != list(islice(poisson_offsets(2.0, random.Random(10)), 50))
    with pytest.raises(ValueError, match="positive"):
        next(poisson_offsets(0.0, random.Random(0)))


async def test_closed_loop_keeps_exactly_c_in_flight() -> None:
    stub = Stub()
    phase = await closed_loop(stub, make_job, users=4, limit=20)
    assert len(phase.records) == 20
    assert stub.peak == 4
    assert sorted(stub.indices) == list(range(20))
    assert phase.wall_s > 0


async def test_closed_loop_duration_bound() -> None:
    stub = Stub(delay_s=0.02)
    phase = await closed_loop(stub, make_job, users=2, limit=None, duration_s=0.1)
    assert 4 <= len(phase.records) <= 14


async def test_open_loop_releases_on_schedule_whatever_is_in_flight() -> None:
    stub = Stub(delay_s=0.2)
    phase = await open_loop(stub, make_job, rate=200.0, rng=random.Random(0), limit=30)
    assert len(phase.records) == 30
    assert stub.peak > 10  # arrivals did not wait for answers


async def test_open_loop_duration_bound() -> None:
    stub = Stub(delay_s=0.0)
    phase = await open_loop(
        stub, make_job, rate=100.0, rng=random.Random(0), limit=None, duration_s=0.2
    )
    assert 5 <= len(phase.records) <= 50
