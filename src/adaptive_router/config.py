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
from typing import Any, Literal

from adaptive_router.errors import ConfigError
from adaptive_router.settings.fields import from_flat, setting, validate
from adaptive_router.settings.files import load_sections
from adaptive_router.signals.engine_parse import EngineSetting
from adaptive_router.tiers import Tier

Capability = Literal["auto", "true", "false"]
"""What a tier can do: ``auto`` (as its engine reports; unknown if it does not), or set."""


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
        "tier_high",
        "Tier chosen when every rule abstains (the complexity rule abstains only "
        "when removed from the chain).",
    )
    target_high_share: float = setting(
        0.0,
        "Share of the requests the complexity rule decides that go to tier_high; the threshold "
        "follows it live. 0 = off: complexity_threshold holds.",
        0.0,
        1.0,
    )
    share_window: int = setting(
        500, "How many recent scores the live threshold is taken from.", 20, 100_000
    )
    session_header: str = setting(
        "x-session-id", "Request header naming the conversation (session affinity)."
    )
    session_from_conversation: bool = setting(
        False,
        "Without the header, key a session by a hash of the system prompt and first user message.",
    )
    session_max: int = setting(
        100_000, "Most sessions remembered; the least recently used go first. 0 = off.", 0, 10**8
    )
    session_ttl_s: float = setting(
        1800.0, "A session unused this long (seconds) is forgotten.", 1.0, 30 * 86400.0
    )
    session_escalate_score: float = setting(
        0.85,
        "A session on tier_low moves to tier_high for good when a turn scores at least this "
        "(and at least the threshold in force).",
        0.0,
        1.0,
    )
    tier_low_context_tokens: int = setting(
        0, "tier_low's context window (tokens per request). 0 = ask its engine.", 0, 10**8
    )
    tier_high_context_tokens: int = setting(
        0, "tier_high's context window (tokens per request). 0 = ask its engine.", 0, 10**8
    )
    chars_per_token: float = setting(
        4.0, "Characters per token when estimating a prompt's length.", 0.5, 32.0
    )
    context_margin: float = setting(
        0.2, "Added to the prompt estimate as a share of it, for a tokenizer that splits finer.",
        0.0, 10.0,
    )  # fmt: skip
    tier_low_vision: Capability = setting(
        "auto", "Can tier_low see images: auto (ask llama.cpp's /props), true or false."
    )
    tier_high_vision: Capability = setting(
        "auto", "Can tier_high see images: auto (ask llama.cpp's /props), true or false."
    )
    tier_low_tools: Capability = setting(
        "auto", "Can tier_low take tools: auto (ask llama.cpp whether Jinja is on), true or false."
    )
    tier_high_tools: Capability = setting(
        "auto", "Can tier_high take tools: auto (ask llama.cpp whether Jinja is on), true or false."
    )

    def __post_init__(self) -> None:
        validate(self)
        indices = self.gpu_indices
        if not isinstance(indices, tuple) or not all(
            isinstance(i, int) and not isinstance(i, bool) and i >= 0 for i in indices
        ):
            raise ConfigError(f"gpu_indices must be a tuple of GPU indices >= 0, got {indices!r}")
        object.__setattr__(self, "session_header", self.session_header.strip().lower())
        if not self.session_header:
            raise ConfigError("session_header must name a header, e.g. x-session-id")

    def context_tokens(self, tier: Tier) -> int | None:
        """``tier``'s context window as set here, or None: ask its engine."""
        return getattr(self, f"{tier}_context_tokens") or None

    def capability(self, tier: Tier, kind: Literal["vision", "tools"]) -> bool | None:
        """Whether ``tier`` can do ``kind`` as set here, or None (``auto``): ask its engine."""
        value: Capability = getattr(self, f"{tier}_{kind}")
        return None if value == "auto" else value == "true"

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
