"""LatencyTracker: a moving average of time-to-first-token per tier.

Each tier's estimate is an exponential moving average (EMA) of the TTFT samples fed to
:meth:`LatencyTracker.observe`. It starts at ``seed_ms`` when one is given; with no seed the
first sample sets it (so a cold router neither trusts nor fears a tier it has not measured).
Without new samples the estimate decays toward the seed with ``half_life_s``: a tier that
looked slow once is not shunned forever.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from adaptive_router.tiers import TIERS, Tier


@dataclass(frozen=True, slots=True)
class TierLatency:
    """One tier's latency picture: EMAs in milliseconds (None = no data yet)."""

    ttft_ms: float | None
    total_ms: float | None
    samples: int  # TTFT samples


@dataclass(slots=True)
class _Ema:
    value: float | None
    updated_at: float = 0.0
    samples: int = 0


class LatencyTracker:
    """Thread-safe TTFT (and total-time) moving averages for both tiers.

    >>> tracker = LatencyTracker(alpha=0.5)
    >>> tracker.observe("tier_high", 1000.0)
    >>> tracker.observe("tier_high", 3000.0)
    >>> tracker.ttft_ms("tier_high")
    2000.0
    """

    def __init__(
        self,
        alpha: float = 0.2,
        seed_ms: float = 0.0,
        half_life_s: float = 0.0,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not 0.0 < alpha <= 1.0:
            raise ValueError(f"alpha must be in (0, 1], got {alpha!r}")
        self.alpha = alpha
        self.seed_ms = seed_ms
        self.half_life_s = half_life_s
        self._clock = clock
        self._lock = threading.Lock()
        seed = seed_ms if seed_ms > 0 else None
        self._ttft = {tier: _Ema(seed) for tier in TIERS}
        self._total = {tier: _Ema(None) for tier in TIERS}

    def observe(self, tier: Tier, ttft_ms: float | None, total_ms: float | None = None) -> None:
        """Record one request's time to first token and/or its total time.

        ``ttft_ms=None`` records the total time only (an unstreamed answer has no TTFT).
        """
        if tier not in TIERS:
            raise ValueError(f"unknown tier {tier!r}: use tier_low or tier_high")
        for name, value in (("ttft_ms", ttft_ms), ("total_ms", total_ms)):
            if value is not None and not (math.isfinite(value) and value >= 0):
                raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
        now = self._clock()
        with self._lock:
            if ttft_ms is not None:
                self._update(self._ttft[tier], ttft_ms, now)
            if total_ms is not None:
                self._update(self._total[tier], total_ms, now)

    def ttft_ms(self, tier: Tier) -> float | None:
        """The current TTFT estimate for ``tier`` (decayed to now), or None if unknown."""
        with self._lock:
            return self._decayed(self._ttft[tier], self._clock())

    def snapshot(self) -> dict[Tier, TierLatency]:
        """Both tiers' estimates, decayed to now."""
        now = self._clock()
        with self._lock:
            return {
                tier: TierLatency(
                    ttft_ms=self._decayed(self._ttft[tier], now),
                    total_ms=self._total[tier].value,
                    samples=self._ttft[tier].samples,
                )
                for tier in TIERS
            }

    def _update(self, ema: _Ema, sample: float, now: float) -> None:
        current = self._decayed(ema, now)
        ema.value = sample if current is None else current + self.alpha * (sample - current)
        ema.updated_at = now
        ema.samples += 1

    def _decayed(self, ema: _Ema, now: float) -> float | None:
        if ema.value is None or self.half_life_s <= 0 or ema.samples == 0:
            return ema.value
        weight: float = 0.5 ** (max(0.0, now - ema.updated_at) / self.half_life_s)
        return self.seed_ms + (ema.value - self.seed_ms) * weight
