"""RoutingConfig: every routing setting, validated once, loaded in one place.

Settings come from, in rising precedence: the defaults below, a TOML or YAML file (a
``[routing]`` table), environment variables ``STRATUM_<FIELD>`` and explicit overrides (CLI
flags), loaded by ``settings.files`` like every settings class of the project.
``docs/configuration.md`` documents each field; a test keeps the two in step.

    >>> cfg = RoutingConfig(complexity_threshold=0.7)
    >>> cfg.latency_sla_ms
    2000.0
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from adaptive_router.errors import ConfigError
from adaptive_router.settings.fields import from_flat, setting, validate
from adaptive_router.settings.files import load_sections
from adaptive_router.signals.engine_parse import EngineSetting
from adaptive_router.tiers import Tier


@dataclass(frozen=True, slots=True)
class RoutingConfig:
    """How the router decides between tier_low and tier_high.

    Frozen and validated on construction: a bad value raises :class:`ConfigError` (a
    ``ValueError``) naming the field and the allowed range.

        >>> RoutingConfig(complexity_threshold=0.65, vram_headroom_gb=1.5).default_tier
        'tier_high'
    """

    complexity_threshold: float = setting(
        0.65, "Prompts scoring below this go to tier_low.", 0.0, 1.0
    )
    vram_headroom_gb: float = setting(
        1.5, "Send to tier_low when the least free GPU memory (GB) is below this.", 0.0, 4096.0
    )
    latency_sla_ms: float = setting(
        2000.0, "tier_high time-to-first-token target; above it, divert to tier_low.", 1.0, 3.6e6
    )
    sla_warmup_seed_ms: float = setting(
        0.0,
        "Starting TTFT estimate per tier. 0 = none: the first measurement sets it.",
        0.0,
        3.6e6,
    )
    latency_ema_alpha: float = setting(
        0.2, "Weight of each new TTFT sample in the moving average.", 0.001, 1.0
    )
    sla_probe_share: float = setting(
        0.05,
        "While the SLA rule diverts, this share of qualifying requests still goes to "
        "tier_high so its estimate can recover.",
        0.0,
        1.0,
    )
    sla_decay_half_life_s: float = setting(
        60.0,
        "Without new samples, a TTFT estimate decays toward the seed with this half-life "
        "(seconds). 0 disables decay.",
        0.0,
        86400.0,
    )
    vram_poll_interval_ms: float = setting(
        15.0, "How often the GPU monitor polls NVML. 0 disables GPU monitoring.", 0.0, 60000.0
    )
    vram_stale_ms: float = setting(
        1000.0, "GPU readings older than this are ignored (the GPU rules abstain).", 1.0, 3.6e6
    )
    gpu_util_circuit_pct: float = setting(
        90.0, "Send to tier_low while any watched GPU is busier than this (percent).", 0.0, 100.0
    )
    gpu_indices: tuple[int, ...] = setting(
        (), "GPU indices to watch, e.g. 0,1. Empty = every GPU NVML reports."
    )
    engine_poll_interval_ms: float = setting(
        1000.0,
        "How often the engines' /health and /metrics are polled. 0 disables it.",
        0.0,
        60000.0,
    )
    engine_stale_ms: float = setting(
        5000.0, "Engine readings older than this are ignored (their rules abstain).", 1.0, 3.6e6
    )
    engine_kind: EngineSetting = setting(
        "auto", "Engine behind the tiers: auto (detect), llama.cpp, vllm or sglang."
    )
    high_max_waiting: float = setting(
        2.0, "tier_high is saturated when more requests than this wait in its queue.", 0.0, 1e6
    )
    high_max_kv_usage: float = setting(
        0.95, "tier_high is saturated when its KV cache is fuller than this (0-1).", 0.0, 1.0
    )
    default_tier: Tier = setting(
        "tier_high", "Tier chosen when every rule abstains (a complex prompt, resources fine)."
    )

    def __post_init__(self) -> None:
        validate(self)
        indices = self.gpu_indices
        if not isinstance(indices, tuple) or not all(
            isinstance(i, int) and not isinstance(i, bool) and i >= 0 for i in indices
        ):
            raise ConfigError(f"gpu_indices must be a tuple of GPU indices >= 0, got {indices!r}")

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any], *, source: str = "config") -> RoutingConfig:
        """Build a config from loosely typed values (file, environment, flags).

        Strings are converted to the field's type; unknown keys are an error.
        """
        config: RoutingConfig = from_flat(cls, values, source)
        return config


def load_config(
    path: str | os.PathLike[str] | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> RoutingConfig:
    """Load the routing config: defaults < file ([routing]) < environment < overrides.

    >>> load_config(environ={"STRATUM_COMPLEXITY_THRESHOLD": "0.5"}).complexity_threshold
    0.5
    """
    config: RoutingConfig = load_sections(
        path, {"routing": RoutingConfig}, environ=environ, overrides=overrides
    )["routing"]
    return config
