from adaptive_router.proxy.upstream import TierPool, Upstream
from tests.conftest import Clock


def test_pick_prefers_the_least_busy_usable_replica(clock: Clock) -> None:
    a, b, c = (Upstream("tier_low", f"http://{n}:1/v1", breaker_failures=2) for n in "abc")
    pool = TierPool("tier_low", [a, b, c], clock)
    a.in_flight, b.in_flight, c.in_flight = 3, 1, 2
    assert pool.pick() is b
    b.begin(clock())
    b.failed("boom", clock())
    b.begin(clock())
    b.failed("boom", clock())  # two in a row: out of rotation
    assert b.state(clock()) == "open"
    assert pool.pick() is c
    assert "boom" in pool.describe_failures()


def test_breaker_half_opens_for_one_trial_after_cooldown(clock: Clock) -> None:
    up = Upstream("tier_high", "http://h:1/v1", breaker_failures=1, cooldown_s=5)
    pool = TierPool("tier_high", [up], clock)
    up.begin(clock())
    up.failed("refused", clock())
    assert pool.pick() is None
    assert not pool.ready()
    clock.advance(5)
    assert up.state(clock()) == "half-open"
    assert pool.pick() is up
    up.begin(clock())  # the one trial
    assert pool.pick() is None  # no second request while the trial runs
    up.succeeded()
    assert up.state(clock()) == "closed"
    assert pool.pick() is up
