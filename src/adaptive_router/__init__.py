"""Stratum: adaptive routing between a small fast LLM tier and a big slow one.

>>> from adaptive_router import AdaptiveRouter, RoutingConfig
>>> router = AdaptiveRouter(RoutingConfig(complexity_threshold=0.65, vram_headroom_gb=1.5))
>>> router.route("What time is it in Tokyo?")
'tier_low'
>>> router.close()
"""

from adaptive_router.config import RoutingConfig, load_config
from adaptive_router.errors import ConfigError, DataFileError, StratumError
from adaptive_router.router import AdaptiveRouter, Decision, RouterState
from adaptive_router.rules import RoutingContext, Rule, Verdict, default_rules
from adaptive_router.scoring import ComplexityScorer, Score
from adaptive_router.signals import LatencyTracker, VRAMMonitor, VRAMSnapshot
from adaptive_router.tiers import TIER_HIGH, TIER_LOW, Tier

__all__ = [
    "TIER_HIGH",
    "TIER_LOW",
    "AdaptiveRouter",
    "ComplexityScorer",
    "ConfigError",
    "DataFileError",
    "Decision",
    "LatencyTracker",
    "RouterState",
    "RoutingConfig",
    "RoutingContext",
    "Rule",
    "Score",
    "StratumError",
    "Tier",
    "VRAMMonitor",
    "VRAMSnapshot",
    "Verdict",
    "default_rules",
    "load_config",
]
