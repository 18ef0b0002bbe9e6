"""RoutingConfig: every routing setting, validated once, loaded in one place.

Settings come from, in rising precedence: the defaults below, a TOML or YAML file (a
``[routing]`` table), environment variables ``STRATUM_<FIELD>`` and explicit overrides (CLI
flags). ``docs/configuration.md`` documents each field; a test keeps the two in step.

    >>> cfg = RoutingConfig(complexity_threshold=0.7)
    >>> cfg.latency_sla_ms
    2000.0
"""

from __future__ import annotations

import dataclasses
import math
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from adaptive_router.errors import ConfigError
from adaptive_router.tiers import TIERS, Tier, parse_tier

ENV_PREFIX = "STRATUM_"


def _setting(default: Any, help: str, lo: float | None = None, hi: float | None = None) -> Any:
    """A dataclass field carrying its help text and allowed range (inclusive)."""
    return field(default=default, metadata={"help": help, "lo": lo, "hi": hi})


@dataclass(frozen=True, slots=True)
class RoutingConfig:
    """How the router decides between tier_low and tier_high.

    Frozen and validated on construction: a bad value raises :class:`ConfigError` (a
    ``ValueError``) naming the field and the allowed range.

        >>> RoutingConfig(complexity_threshold=0.65, vram_headroom_gb=1.5).default_tier
        'tier_high'
    """

    complexity_threshold: float = _setting(
        0.65, "Prompts scoring below this go to tier_low.", 0.0, 1.0
    )
    vram_headroom_gb: float = _setting(
        1.5, "Send to tier_low when the least free GPU memory (GB) is below this.", 0.0, 4096.0
    )
    latency_sla_ms: float = _setting(
        2000.0, "tier_high time-to-first-token target; above it, divert to tier_low.", 1.0, 3.6e6
    )
    sla_warmup_seed_ms: float = _setting(
        0.0,
        "Starting TTFT estimate per tier. 0 = none: the first measurement sets it.",
        0.0,
        3.6e6,
    )
    latency_ema_alpha: float = _setting(
        0.2, "Weight of each new TTFT sample in the moving average.", 0.001, 1.0
    )
    sla_probe_share: float = _setting(
        0.05,
        "While the SLA rule diverts, this share of qualifying requests still goes to "
        "tier_high so its estimate can recover.",
        0.0,
        1.0,
    )
    sla_decay_half_life_s: float = _setting(
        60.0,
        "Without new samples, a TTFT estimate decays toward the seed with this half-life "
        "(seconds). 0 disables decay.",
        0.0,
        86400.0,
    )
    vram_poll_interval_ms: float = _setting(
        15.0, "How often the GPU monitor polls NVML. 0 disables GPU monitoring.", 0.0, 60000.0
    )
    vram_stale_ms: float = _setting(
        1000.0, "GPU readings older than this are ignored (the GPU rules abstain).", 1.0, 3.6e6
    )
    gpu_util_circuit_pct: float = _setting(
        90.0, "Send to tier_low while any watched GPU is busier than this (percent).", 0.0, 100.0
    )
    gpu_indices: tuple[int, ...] = _setting(
        (), "GPU indices to watch, e.g. 0,1. Empty = every GPU NVML reports."
    )
    default_tier: Tier = _setting(
        "tier_high", "Tier chosen when every rule abstains (a complex prompt, resources fine)."
    )

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            if f.type in ("float", float):
                _check_number(f.name, getattr(self, f.name), f.metadata["lo"], f.metadata["hi"])
        indices = self.gpu_indices
        if not isinstance(indices, tuple) or not all(
            isinstance(i, int) and not isinstance(i, bool) and i >= 0 for i in indices
        ):
            raise ConfigError(f"gpu_indices must be a tuple of GPU indices >= 0, got {indices!r}")
        if self.default_tier not in TIERS:
            raise ConfigError(
                f"default_tier must be one of {', '.join(TIERS)}, got {self.default_tier!r}"
            )

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any], *, source: str = "config") -> RoutingConfig:
        """Build a config from loosely typed values (file, environment, flags).

        Strings are converted to the field's type; unknown keys are an error.
        """
        known = {f.name: f for f in dataclasses.fields(cls)}
        kwargs: dict[str, Any] = {}
        for key, raw in values.items():
            name = key.replace("-", "_").lower()
            if name not in known:
                raise ConfigError(
                    f"{source}: unknown setting {key!r}; known settings: {', '.join(known)}"
                )
            kwargs[name] = _coerce(name, known[name].type, raw, source)
        return cls(**kwargs)


def setting_docs() -> list[tuple[str, str, str, str]]:
    """(name, environment variable, default, help) for every RoutingConfig field."""
    rows = []
    for f in dataclasses.fields(RoutingConfig):
        default = f.default
        shown = ",".join(map(str, default)) if isinstance(default, tuple) else str(default)
        rows.append((f.name, env_var(f.name), shown or "(empty)", f.metadata["help"]))
    return rows


def env_var(name: str) -> str:
    """The environment variable that sets field ``name``."""
    return ENV_PREFIX + name.upper()


def load_config(
    path: str | os.PathLike[str] | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> RoutingConfig:
    """Load the routing config: defaults < file < environment < overrides.

    >>> load_config(environ={"STRATUM_COMPLEXITY_THRESHOLD": "0.5"}).complexity_threshold
    0.5
    """
    values: dict[str, Any] = {}
    if path is not None:
        values.update(_read_file(Path(path)))
    env = os.environ if environ is None else environ
    for f in dataclasses.fields(RoutingConfig):
        if env_var(f.name) in env:
            values[f.name] = env[env_var(f.name)]
    values.update({k: v for k, v in (overrides or {}).items() if v is not None})
    return RoutingConfig.from_mapping(values)


def _read_file(path: Path) -> Mapping[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror or exc}") from exc
    try:
        if path.suffix.lower() == ".toml":
            data: Any = tomllib.loads(text)
        elif path.suffix.lower() in (".yaml", ".yml"):
            data = yaml.safe_load(text) or {}
        else:
            raise ConfigError(f"{path}: config files must end in .toml, .yaml or .yml")
    except (tomllib.TOMLDecodeError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path}: not valid {path.suffix[1:].upper()}: {exc}") from exc
    if not isinstance(data, Mapping):
        raise ConfigError(f"{path}: expected a table of settings at the top level")
    routing = data.get("routing", {})
    if not isinstance(routing, Mapping):
        raise ConfigError(f"{path}: [routing] must be a table of settings")
    return routing


def _check_number(name: str, value: Any, lo: float | None, hi: float | None) -> None:
    ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    if ok and (lo is None or value >= lo) and (hi is None or value <= hi):
        return
    raise ConfigError(f"{name} must be a number from {lo:g} to {hi:g}, got {value!r}")


def _coerce(name: str, type_name: Any, raw: Any, source: str) -> Any:
    try:
        if type_name in ("float", float):
            if isinstance(raw, bool):
                raise ValueError
            return float(raw)
        if type_name in ("tuple[int, ...]",):
            parts = raw.replace(" ", "").split(",") if isinstance(raw, str) else raw
            return tuple(int(part) for part in parts if part != "")
        if type_name in ("Tier",):
            return parse_tier(str(raw))
    except (TypeError, ValueError) as exc:
        problem = str(exc) or "wrong type"
        raise ConfigError(f"{source}: {name}: cannot use {raw!r} ({problem})") from exc
    return raw
