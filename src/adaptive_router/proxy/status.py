"""What the status page shows: recent decisions, share per tier, tiers' health and load.

``GET /`` serves a self-contained page (no build step, no CDN: it works offline) that polls
``GET /api/status`` every two seconds.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from importlib import resources
from typing import Any

from adaptive_router.proxy.upstream import TierPool
from adaptive_router.router import AdaptiveRouter, Decision
from adaptive_router.tiers import TIERS, Tier


@dataclass(frozen=True, slots=True)
class Record:
    """One answered (or refused) request, as the status page lists it."""

    at: float  # unix time
    tier: str | None  # the tier that answered; None if none could
    decided: str  # the tier the rules chose
    rule: str
    reason: str
    score: float
    status: int
    ttft_ms: float | None
    total_ms: float
    failover: bool


class StatusBoard:
    """Keeps the last ``size`` requests and answer counts per tier."""

    def __init__(self, size: int = 50) -> None:
        self.recent: deque[Record] = deque(maxlen=size)
        self.answered: dict[str, int] = dict.fromkeys(TIERS, 0)
        self.started = time.time()

    def record(
        self,
        decision: Decision,
        tier: Tier | None,
        status: int,
        ttft_ms: float | None,
        total_ms: float,
        failover: bool,
    ) -> None:
        self.recent.append(
            Record(time.time(), tier, decision.tier, decision.rule, decision.reason,
                   round(decision.score, 4), status, ttft_ms, total_ms, failover)
        )  # fmt: skip
        if tier is not None:
            self.answered[tier] += 1

    def snapshot(
        self,
        router: AdaptiveRouter,
        pools: Mapping[Tier, TierPool],
        health: Mapping[str, Any],
        engines: Mapping[Tier, Any] | None = None,
    ) -> dict[str, Any]:
        """The JSON body of ``/api/status``."""
        total = sum(self.answered.values())
        latency = router.latency.snapshot()
        tiers = {}
        for tier in TIERS:
            tiers[tier] = {
                **health[tier],
                "answered": self.answered[tier],
                "share": self.answered[tier] / total if total else None,
                "ttft_ema_ms": latency[tier].ttft_ms,
                "total_ema_ms": latency[tier].total_ms,
                "engine": (engines or {}).get(tier),
            }
        config = router.config
        return {
            "uptime_s": time.time() - self.started,
            "routing": {
                "complexity_threshold": config.complexity_threshold,
                "latency_sla_ms": config.latency_sla_ms,
                "vram_headroom_gb": config.vram_headroom_gb,
            },
            "gpu": {
                "available": router.monitor.snapshot.available,
                "free_gb_min": router.monitor.snapshot.min_free_gb,
                "util_pct_max": router.monitor.snapshot.max_util_pct,
                "error": router.monitor.snapshot.error,
            },
            "tiers": tiers,
            "recent": [asdict(r) for r in reversed(self.recent)],
        }


def page() -> bytes:
    """The status page's HTML (one file, inline CSS and JavaScript)."""
    return resources.files("adaptive_router.proxy").joinpath("status.html").read_bytes()
