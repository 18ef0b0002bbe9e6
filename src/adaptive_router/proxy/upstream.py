"""Upstream servers: replicas per tier, least-in-flight choice and a passive circuit breaker.

An :class:`Upstream` counts its in-flight requests and consecutive failures. After
``breaker_failures`` failures in a row it is taken out of rotation for ``cooldown_s``; then
one request may try it again (half-open): success puts it back, failure takes it out again.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from adaptive_router.tiers import Tier


@dataclass(slots=True)
class Upstream:
    """One upstream server (a base URL ending in /v1) and its live state."""

    tier: Tier
    base_url: str
    breaker_failures: int = 3
    cooldown_s: float = 10.0
    in_flight: int = 0
    failures: int = 0
    open_until: float = 0.0
    trial_running: bool = False
    last_error: str | None = None
    model: str | None = None  # upstream model name, configured or discovered
    model_checked_at: float = 0.0  # when discovery may next be tried

    def state(self, now: float) -> str:
        """ "closed" (in rotation), "open" (taken out) or "half-open" (one trial allowed)."""
        if self.failures < self.breaker_failures:
            return "closed"
        return "open" if now < self.open_until or self.trial_running else "half-open"

    def usable(self, now: float) -> bool:
        return self.state(now) != "open"

    def begin(self, now: float) -> None:
        self.in_flight += 1
        if self.state(now) == "half-open":
            self.trial_running = True

    def succeeded(self) -> None:
        self.in_flight -= 1
        self.failures = 0
        self.trial_running = False
        self.last_error = None

    def failed(self, error: str, now: float) -> None:
        self.in_flight -= 1
        self.fault(error, now)

    def fault(self, error: str, now: float) -> None:
        """Count a failure found after the request ended (its in-flight count is gone)."""
        self.failures += 1
        self.trial_running = False
        self.last_error = error
        if self.failures >= self.breaker_failures:
            self.open_until = now + self.cooldown_s

    def released(self) -> None:
        """The request ended without a verdict on the upstream (e.g. the client left)."""
        self.in_flight -= 1
        self.trial_running = False


class TierPool:
    """The upstreams of one tier; :meth:`pick` returns the least busy usable one."""

    def __init__(
        self, tier: Tier, upstreams: Sequence[Upstream], clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.tier = tier
        self.upstreams = tuple(upstreams)
        self._clock = clock

    def pick(self) -> Upstream | None:
        """The usable upstream with the fewest in-flight requests, or None if all are out."""
        now = self._clock()
        best: Upstream | None = None
        for upstream in self.upstreams:
            if upstream.usable(now) and (best is None or upstream.in_flight < best.in_flight):
                best = upstream
        return best

    def ready(self) -> bool:
        """True while at least one upstream is in rotation."""
        now = self._clock()
        return any(u.usable(now) for u in self.upstreams)

    def describe_failures(self) -> str:
        """One clause per upstream saying how it last failed."""
        now = self._clock()
        return "; ".join(
            f"{u.base_url} ({u.state(now)}: {u.last_error or 'no error recorded'})"
            for u in self.upstreams
        )
