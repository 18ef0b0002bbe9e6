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

from adaptive_router.proxy.forward import Outcome
from adaptive_router.router import Decision, RouterState
from adaptive_router.signals import TierLoad
from adaptive_router.tiers import TIERS


@dataclass(frozen=True, slots=True)
class Record:
    """One answered (or refused) request, as the status page lists it."""

    at: float  # unix time
    tier: str | None  # the tier that answered; None if none could
    decided: str  # the tier the rules chose
    rule: str
    reason: str
    score: float
    status: int  # 499: the client left before the answer ended
    ttft_ms: float | None
    total_ms: float
    failover: bool


class StatusBoard:
    """Keeps the last ``size`` requests and answer counts per tier."""

    def __init__(self, size: int = 50) -> None:
        self.recent: deque[Record] = deque(maxlen=size)
        self.answered: dict[str, int] = dict.fromkeys(TIERS, 0)
        self.started = time.time()

    def record(self, decision: Decision, outcome: Outcome, total_ms: float) -> None:
        """Keep one request: how it was routed and what came of it."""
        self.recent.append(
            Record(time.time(), outcome.tier, decision.tier, decision.rule, decision.reason,
                   round(decision.score, 4), outcome.status, outcome.ttft_ms, total_ms,
                   outcome.failover)
        )  # fmt: skip
        if outcome.tier is not None:
            self.answered[outcome.tier] += 1

    def snapshot(self, state: RouterState, health: Mapping[str, Any]) -> dict[str, Any]:
        """The JSON body of ``/api/status``: the router's state, ``health`` per tier (the
        body of ``/health``) and the recent requests."""
        total = sum(self.answered.values())
        latency = state.latency
        tiers = {}
        for tier in TIERS:
            tiers[tier] = {
                **health[tier],
                "answered": self.answered[tier],
                "share": self.answered[tier] / total if total else None,
                "ttft_ema_ms": latency[tier].ttft_ms,
                "total_ema_ms": latency[tier].total_ms,
                "engine": _engine_view(state.engines.get(tier)),
                "context_tokens": state.tiers[tier].context_tokens,
            }
        config, gpu = state.config, state.gpu
        return {
            "uptime_s": time.time() - self.started,
            "routing": {
                "threshold": state.threshold,  # in force: live when target_high_share is set
                "target_high_share": config.target_high_share,
                "sessions": state.sessions,
                "complexity_threshold": config.complexity_threshold,
                "latency_sla_ms": config.latency_sla_ms,
                "vram_headroom_gb": config.vram_headroom_gb,
            },
            "gpu": {
                "available": gpu.available,
                "free_gb_min": gpu.min_free_gb,
                "util_pct_max": gpu.max_util_pct,
                "error": gpu.error,
            },
            "tiers": tiers,
            "recent": [asdict(r) for r in reversed(self.recent)],
        }


def _engine_view(load: TierLoad | None) -> dict[str, Any] | None:
    if load is None:
        return None
    return {
        "engine": ", ".join(load.engines) or None,
        "healthy": load.healthy,
        "running": load.running,
        "waiting": load.waiting,
        "kv_usage": load.kv_usage,
        "slots_busy": load.slots_busy,
        "slots_total": load.slots_total,
    }


def page() -> bytes:
    """The status page's HTML (one file, inline CSS and JavaScript)."""
    return resources.files("adaptive_router.proxy").joinpath("status.html").read_bytes()
