import threading

import pytest

from adaptive_router import LatencyTracker
from tests.conftest import Clock


def test_ema_moves_by_alpha_toward_each_sample() -> None:
    tracker = LatencyTracker(alpha=0.25, seed_ms=1000)
    tracker.observe("tier_high", 2000)
    assert tracker.ttft_ms("tier_high") == pytest.approx(1250)
    assert tracker.ttft_ms("tier_low") == pytest.approx(1000)  # seeded, untouched


def test_without_seed_the_first_sample_sets_the_estimate() -> None:
    tracker = LatencyTracker(alpha=0.1)
    assert tracker.ttft_ms("tier_high") is None
    tracker.observe("tier_high", 3000)
    assert tracker.ttft_ms("tier_high") == pytest.approx(3000)


def test_total_time_is_tracked_apart_from_ttft() -> None:
    tracker = LatencyTracker(alpha=0.5)
    tracker.observe("tier_low", 100, total_ms=900)
    snap = tracker.snapshot()
    assert snap["tier_low"].ttft_ms == pytest.approx(100)
    assert snap["tier_low"].total_ms == pytest.approx(900)
    assert snap["tier_low"].samples == 1
    assert snap["tier_high"].samples == 0


def test_estimate_decays_toward_seed_without_samples(clock: Clock) -> None:
    tracker = LatencyTracker(alpha=1.0, seed_ms=500, half_life_s=10, clock=clock)
    tracker.observe("tier_high", 4500)
    clock.advance(10)
    assert tracker.ttft_ms("tier_high") == pytest.approx(2500)
    clock.advance(10)
    assert tracker.ttft_ms("tier_high") == pytest.approx(1500)


@pytest.mark.parametrize("bad", [-1.0, float("nan"), float("inf")])
def test_rejects_impossible_samples(bad: float) -> None:
    with pytest.raises(ValueError, match="ttft_ms"):
        LatencyTracker().observe("tier_low", bad)


def test_rejects_unknown_tier() -> None:
    with pytest.raises(ValueError, match="unknown tier"):
        LatencyTracker().observe("tier_mid", 10)  # type: ignore[arg-type]


def test_concurrent_observations_are_all_counted() -> None:
    tracker = LatencyTracker(alpha=0.01)
    barrier = threading.Barrier(8)

    def work() -> None:
        barrier.wait()
        for _ in range(500):
            tracker.observe("tier_high", 100)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert tracker.snapshot()["tier_high"].samples == 4000
    assert tracker.ttft_ms("tier_high") == pytest.approx(100)
