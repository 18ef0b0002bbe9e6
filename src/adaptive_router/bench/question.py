"""The routing question, as a preset and as a sentence with the measured numbers.

*Under a mixed workload, at a load where tier_high saturates, does routing cut TTFT versus
sending everything to tier_high, by how much, and with what share of tier_high?*

``--preset routing-question`` loads one Stratum instance three ways, one after another on
the same seeded prompts: ``routed`` (model ``auto``: Stratum decides), ``all-high`` (model
``gemma4-smart``: every request forced to tier_high) and ``all-low`` (``gemma4-lite``).
Forced requests through Stratum feed its TTFT estimate of tier_high, and a saturated
all-high run leaves it high (it decays with ``sla_decay_half_life_s``), so the SLA rule
would divert the routed run of the next level. So the baselines go to the engines' own URLs
when they are known: ``--high-url`` / ``--low-url``, or else the engines of the local
``stratum up`` stack that serves ``--router-url`` (read from its ``stack.json``).
Any run whose targets are named ``routed`` and ``all-high`` (``all-low`` optional) gets the
answer sentence, so the comparison also works with direct engine URLs as baselines.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from adaptive_router.bench.stats import Aggregate
from adaptive_router.stack.state import RunDir
from adaptive_router.tiers import TIER_HIGH, TIER_LOW

ROUTED, ALL_HIGH, ALL_LOW = "routed", "all-high", "all-low"
PRESETS = ("routing-question",)
NOISE = 0.10  # a change of p50 TTFT smaller than this is reported as "about matched"
QUALITY_CAVEAT = (
    "This measures speed only, not answer quality: the requests routing kept off "
    "tier_high got the small model's answers."
)


@dataclass(frozen=True, slots=True)
class Preset:
    """Values a preset sets, unless the user gave the option."""

    workload: str = "mixed"
    hard_share: float = 0.3
    concurrency: str = "8"
    requests: int = 40
    warmup: int = 4
    output_tokens: int = 32
    ignore_eos: bool = True


def preset_targets(
    router_url: str, high_url: str | None = None, low_url: str | None = None
) -> list[str]:
    """``--target`` specs of the routing question: baselines through Stratum (forced by
    model alias) unless a tier's engine URL is given, then straight to that engine."""
    return [
        f"{ROUTED}={router_url}@auto",
        f"{ALL_HIGH}={high_url}" if high_url else f"{ALL_HIGH}={router_url}@gemma4-smart",
        f"{ALL_LOW}={low_url}" if low_url else f"{ALL_LOW}={router_url}@gemma4-lite",
    ]


def local_engines(router_url: str, run_dir: Path) -> tuple[str | None, str | None]:
    """The (tier_high, tier_low) engine URLs of the ``stratum up`` stack serving
    ``router_url``, read from its ``stack.json``; None for a tier whose engine the stack
    did not start (an external server may need its own model name)."""
    state = RunDir(run_dir).read()
    if state is None or not _same_server(state.router_url, router_url):
        return None, None
    started = {part.name: part.url for part in state.parts if part.pid is not None}
    return started.get(TIER_HIGH), started.get(TIER_LOW)


def _same_server(served: str, asked: str) -> bool:
    a, b = urlsplit(served), urlsplit(asked)
    local = {"127.0.0.1", "localhost", "::1", "0.0.0.0", "::"}
    same_host = a.hostname == b.hostname or {a.hostname, b.hostname} <= local
    return same_host and a.port == b.port


def answer(aggregates: list[Aggregate], level_label: str, hard_share: float) -> str | None:
    """The answer sentence for one level, or None when routed or all-high is missing."""
    by_name = {a.target: a for a in aggregates}
    routed, high = by_name.get(ROUTED), by_name.get(ALL_HIGH)
    if routed is None or high is None or not routed.ttft.count or not high.ttft.count:
        return None
    p50 = _change("p50", high.ttft.p50, routed.ttft.p50)
    p99 = _change("p99", high.ttft.p99, routed.ttft.p99)
    change = (routed.ttft.p50 - high.ttft.p50) / high.ttft.p50 if high.ttft.p50 > 0 else 0.0
    verb = "cut" if change <= -NOISE else "did not cut" if change >= NOISE else "about matched"
    share = routed.tier_share.get(TIER_HIGH, 0.0) if routed.tier_share else None
    shown = f"{share:.0%}" if share is not None else "an unknown share (no x-stratum-tier header)"
    sentence = (
        f"At {level_label} on the mixed workload ({hard_share:.0%} hard prompts), routing "
        f"{verb} TTFT versus all-to-tier_high: {p50}, {p99}; routed sent {shown} of requests "
        f"to tier_high"
    )
    low = by_name.get(ALL_LOW)
    if low is not None and low.ttft.count:
        sentence += f" (all-to-tier_low: p50 {_s(low.ttft.p50)}, p99 {_s(low.ttft.p99)})"
    errors = routed.errors + high.errors
    if errors:
        sentence += f"; {errors} request(s) failed, see the table"
    return f"{sentence}. {QUALITY_CAVEAT}"


def _change(name: str, before: float, after: float) -> str:
    if math.isnan(before) or math.isnan(after) or before <= 0:
        return f"{name} {_s(before)} -> {_s(after)}"
    pct = (after - before) / before
    shown = "±0%" if abs(pct) < 0.005 else f"{pct:+.0%}"
    return f"{name} {_s(before)} -> {_s(after)} ({shown})"


def _s(seconds: float) -> str:
    if math.isnan(seconds):
        return "n/a"
    return f"{seconds * 1000:.0f} ms" if seconds < 1 else f"{seconds:.2f} s"
