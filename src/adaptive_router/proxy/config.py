"""ProxyConfig: where the proxy listens, what each tier's upstreams are, its limits.

Loaded with :func:`load_settings` together with the routing settings: defaults < file
(``[routing]`` and ``[proxy]`` tables, ``[proxy.tier_low]`` for a tier) < environment
(``STRATUM_PORT``, ``STRATUM_TIER_LOW_URL``, ...) < flags.

    >>> cfg = ProxyConfig(tier_low=TierConfig(url=("http://127.0.0.1:8081",)))
    >>> cfg.tier_low.url
    ('http://127.0.0.1:8081/v1',)
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from adaptive_router.config import RoutingConfig
from adaptive_router.errors import ConfigError
from adaptive_router.settings.fields import (
    setting,
    validate,
)
from adaptive_router.settings.files import load_sections
from adaptive_router.tiers import TIER_HIGH, TIER_LOW, Tier


@dataclass(frozen=True, slots=True)
class TierConfig:
    """One tier: its OpenAI-compatible upstreams and how long to wait for them."""

    url: tuple[str, ...] = setting(
        (), "Base URL(s) of this tier's OpenAI-compatible server(s), comma-separated."
    )
    model: str = setting(
        "", "Model name sent upstream. Empty = the first model the upstream lists."
    )
    api_key: str = setting("", "API key sent upstream as a Bearer token.", secret=True)
    connect_timeout_s: float = setting(5.0, "Seconds to open a connection.", 0.01, 3600.0)
    first_byte_timeout_s: float = setting(
        120.0,
        "Seconds to the first byte of a streamed answer (prompt prefill included).",
        0.01,
        3600.0,
    )
    idle_timeout_s: float = setting(
        60.0, "Seconds a streamed answer may stay silent (ended after 1-2x this).", 0.01, 3600.0
    )
    total_timeout_s: float = setting(900.0, "Seconds a whole request may take.", 0.01, 86400.0)
    max_tokens: int = setting(
        512, "max_tokens sent when the client asks for none (0 = send none).", 0, 10**8
    )
    max_tokens_cap: int = setting(
        0, "Most max_tokens a client may ask for; more is lowered to it (0 = no cap).", 0, 10**8
    )

    def __post_init__(self) -> None:
        validate(self)
        object.__setattr__(self, "url", tuple(_normalise_url(u) for u in self.url))


def _normalise_url(url: str) -> str:
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(f"upstream URL must look like http://host:port/v1, got {url!r}")
    path = parts.path.rstrip("/")
    return f"{parts.scheme}://{parts.netloc}{path or '/v1'}"


@dataclass(frozen=True, slots=True)
class ProxyConfig:
    """The proxy's settings (see docs/configuration.md for the table)."""

    host: str = setting("127.0.0.1", "Address to listen on (0.0.0.0 for every interface).")
    port: int = setting(9000, "Port to listen on.", 0, 65535)
    tier_low: TierConfig = setting(TierConfig(), "The small, fast tier.")
    tier_high: TierConfig = setting(TierConfig(max_tokens=2048), "The big, slow tier.")
    auto_models: tuple[str, ...] = setting(
        ("gemma4-fast", "auto"), "Model names that mean: route adaptively."
    )
    high_models: tuple[str, ...] = setting(("gemma4-smart",), "Model names forcing tier_high.")
    low_models: tuple[str, ...] = setting(("gemma4-lite",), "Model names forcing tier_low.")
    tier_header: str = setting("x-stratum-tier", "Request header that forces a tier (low or high).")
    api_keys: tuple[str, ...] = setting(
        (), "Client API keys accepted on /v1 (empty = open).", secret=True
    )
    force_tier_keys: tuple[str, ...] = setting(
        (),
        "Client API keys allowed to force a tier (the tier header or a tier's model name); "
        "empty = any client may.",
        secret=True,
    )
    max_body_mb: float = setting(16.0, "Largest request body accepted (MB).", 0.001, 1024.0)
    max_header_kb: float = setting(
        32.0, "Largest request head (request line and headers) accepted (KB).", 1.0, 1024.0
    )
    header_timeout_s: float = setting(
        10.0, "Seconds a client may take to send a request's headers.", 0.1, 3600.0
    )
    body_timeout_s: float = setting(
        60.0, "Seconds a client may take to send a request's body, after its headers.", 0.1, 3600.0
    )
    drain_timeout_s: float = setting(
        30.0,
        "On SIGTERM: seconds in-flight requests get to finish (new connections are refused).",
        0.0,
        3600.0,
    )
    failover: bool = setting(True, "Retry once on the other tier when a tier fails.")
    breaker_failures: int = setting(
        3, "Consecutive failures that take an upstream out of rotation.", 1, 1000
    )
    breaker_cooldown_s: float = setting(
        10.0, "Seconds before an upstream taken out is tried again.", 0.0, 3600.0
    )

    def __post_init__(self) -> None:
        validate(self)
        object.__setattr__(self, "tier_header", self.tier_header.strip().lower())
        names = [*self.auto_models, *self.high_models, *self.low_models]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise ConfigError(f"model alias listed twice: {', '.join(repeated)}")
        if not names:
            raise ConfigError("at least one model alias is needed (auto_models)")
        if self.api_keys and not set(self.force_tier_keys) <= set(self.api_keys):
            raise ConfigError("every key in force_tier_keys must also be one of api_keys")

    def tier(self, tier: Tier) -> TierConfig:
        """The settings of ``tier``."""
        return self.tier_high if tier == TIER_HIGH else self.tier_low

    def alias_targets(self) -> dict[str, Tier | None]:
        """Each model alias and the tier it forces (None = adaptive)."""
        targets: dict[str, Tier | None] = dict.fromkeys(self.auto_models)
        targets.update(dict.fromkeys(self.high_models, TIER_HIGH))
        targets.update(dict.fromkeys(self.low_models, TIER_LOW))
        return targets

    def require_upstreams(self) -> None:
        """Raise ConfigError unless both tiers have at least one upstream URL."""
        for name in ("tier_low", "tier_high"):
            if not getattr(self, name).url:
                flag = name.replace("_", "-")
                raise ConfigError(
                    f"{name} has no upstream: pass --{flag}-url URL "
                    f"(or set STRATUM_{name.upper()}_URL)"
                )


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything the service needs: routing and proxy settings."""

    routing: RoutingConfig
    proxy: ProxyConfig


def load_settings(
    path: str | os.PathLike[str] | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> Settings:
    """Routing and proxy settings: defaults < file < environment < overrides (flat names)."""
    sections = load_sections(
        path,
        {"routing": RoutingConfig, "proxy": ProxyConfig},
        environ=environ,
        overrides=overrides,
    )
    return Settings(**sections)
