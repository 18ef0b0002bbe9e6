"""Machinery shared by the frozen settings dataclasses: help text, ranges, conversion, files.

A settings class declares each field with :func:`setting` (default, help, allowed range),
calls :func:`validate` from ``__post_init__`` and is built from loosely typed values (file,
environment, flags) with :func:`from_flat`. Nested settings dataclasses are flattened with
their field name as prefix: ``tier_low.url`` is the flat name ``tier_low_url``.
"""

from __future__ import annotations

import dataclasses
import math
import tomllib
import typing
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import yaml

from adaptive_router.errors import ConfigError

ENV_PREFIX = "STRATUM_"


def setting(
    default: Any, help: str, lo: float | None = None, hi: float | None = None, secret: bool = False
) -> Any:
    """A dataclass field carrying its help text, allowed range (inclusive) and secrecy."""
    meta = {"help": help, "lo": lo, "hi": hi, "secret": secret}
    return dataclasses.field(default=default, metadata=meta, repr=not secret)


def env_var(flat_name: str) -> str:
    """The environment variable for a flat setting name: ``STRATUM_<NAME>``."""
    return ENV_PREFIX + flat_name.upper()


def hints(cls: type) -> dict[str, Any]:
    """The resolved type of each field of a settings class."""
    return typing.get_type_hints(cls)


def is_settings(tp: Any) -> bool:
    return isinstance(tp, type) and dataclasses.is_dataclass(tp)


def flat_fields(cls: type, prefix: str = "") -> Iterator[tuple[str, dataclasses.Field[Any], Any]]:
    """(flat name, field, type) of every leaf setting, nested classes flattened.

    A nested field's default is the one of its parent's default instance, so two nested
    settings of one class may differ (tier_low's engine on 8081, tier_high's on 8082).
    """
    for f in dataclasses.fields(cls):
        tp = hints(cls)[f.name]
        if is_settings(tp):
            parent_default = f.default
            for name, leaf, leaf_tp in flat_fields(tp, f"{prefix}{f.name}_"):
                if parent_default is not dataclasses.MISSING:
                    leaf_name = name.removeprefix(f"{prefix}{f.name}_")
                    if leaf_name in {g.name for g in dataclasses.fields(tp)}:
                        leaf = _with_default(leaf, getattr(parent_default, leaf_name))
                yield name, leaf, leaf_tp
        else:
            yield prefix + f.name, f, tp


def _with_default(f: dataclasses.Field[Any], default: Any) -> dataclasses.Field[Any]:
    copy: dataclasses.Field[Any] = dataclasses.field(default=default, metadata=f.metadata)
    copy.name = f.name
    return copy


def validate(obj: Any) -> None:
    """Check every numeric field of ``obj`` against its declared range."""
    for f in dataclasses.fields(obj):
        tp = hints(type(obj))[f.name]
        value = getattr(obj, f.name)
        if tp in (int, float):
            check_number(f.name, value, f.metadata.get("lo"), f.metadata.get("hi"), tp)
        elif typing.get_origin(tp) is typing.Literal and value not in typing.get_args(tp):
            allowed = ", ".join(map(str, typing.get_args(tp)))
            raise ConfigError(f"{f.name} must be one of {allowed}, got {value!r}")


def check_number(name: str, value: Any, lo: float | None, hi: float | None, tp: type) -> None:
    ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    if tp is int and not isinstance(value, int):
        ok = False
    if ok and (lo is None or value >= lo) and (hi is None or value <= hi):
        return
    kind = "a whole number" if tp is int else "a number"
    raise ConfigError(f"{name} must be {kind} from {lo:g} to {hi:g}, got {value!r}")


def from_flat(cls: type, values: Mapping[str, Any], source: str = "config") -> Any:
    """Build ``cls`` from flat, loosely typed values; unknown names are an error."""
    leaves = {name: (f, tp) for name, f, tp in flat_fields(cls)}
    converted: dict[str, Any] = {}
    for key, raw in values.items():
        name = key.replace("-", "_").lower()
        if name not in leaves:
            raise ConfigError(
                f"{source}: unknown setting {key!r}; known settings: {', '.join(leaves)}"
            )
        converted[name] = convert(name, leaves[name][1], raw, source)
    return _construct(cls, converted, "")


def _construct(cls: type, flat: Mapping[str, Any], prefix: str, base: Any = None) -> Any:
    """Build ``cls`` from flat values; nested settings start from their declared default."""
    kwargs: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        tp = hints(cls)[f.name]
        if is_settings(tp):
            default = f.default if f.default is not dataclasses.MISSING else None
            kwargs[f.name] = _construct(tp, flat, f"{prefix}{f.name}_", default)
        elif prefix + f.name in flat:
            kwargs[f.name] = flat[prefix + f.name]
    return dataclasses.replace(base, **kwargs) if base is not None else cls(**kwargs)


def convert(name: str, tp: Any, raw: Any, source: str) -> Any:
    """Convert a raw value (often a string) to the field's type."""
    try:
        return _convert(tp, raw)
    except (TypeError, ValueError) as exc:
        problem = str(exc) or "wrong type"
        raise ConfigError(f"{source}: {name}: cannot use {raw!r} ({problem})") from exc


def _convert(tp: Any, raw: Any) -> Any:
    if tp is bool:
        if isinstance(raw, str) and raw.strip().lower() in ("1", "true", "yes", "on"):
            return True
        if isinstance(raw, str) and raw.strip().lower() in ("0", "false", "no", "off", ""):
            return False
        if isinstance(raw, bool):
            return raw
        raise ValueError("expected true or false")
    if tp in (int, float):
        if isinstance(raw, bool):
            raise ValueError("expected a number")
        return tp(raw)
    if tp is str:
        return str(raw)
    origin = typing.get_origin(tp)
    if origin is tuple:
        item = typing.get_args(tp)[0]
        parts = raw.split(",") if isinstance(raw, str) else raw
        return tuple(_convert(item, p.strip() if isinstance(p, str) else p) for p in parts if p)
    if origin is typing.Literal:
        return _convert_literal(tp, raw)
    return raw


def _convert_literal(tp: Any, raw: Any) -> Any:
    allowed = typing.get_args(tp)
    text = str(raw).strip().lower()
    for option in allowed:  # tiers may be written "low"/"high" as well as "tier_low"
        if text in (option, option.removeprefix("tier_")):
            return option
    raise ValueError(f"use one of {', '.join(allowed)}")


def read_config_file(path: Path) -> dict[str, Any]:
    """Read a TOML or YAML file into a dict of top-level tables."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror or exc}") from exc
    suffix = path.suffix.lower()
    try:
        if suffix == ".toml":
            data: Any = tomllib.loads(text)
        elif suffix in (".yaml", ".yml"):
            data = yaml.safe_load(text) or {}
        else:
            raise ConfigError(f"{path}: config files must end in .toml, .yaml or .yml")
    except (tomllib.TOMLDecodeError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path}: not valid {suffix[1:].upper()}: {exc}") from exc
    if not isinstance(data, Mapping):
        raise ConfigError(f"{path}: expected a table of settings at the top level")
    return dict(data)


def section(data: Mapping[str, Any], name: str, path: Path) -> dict[str, Any]:
    """Table ``name`` of a config file, nested tables flattened (``a.b = 1`` -> ``a_b``)."""
    table = data.get(name, {})
    if not isinstance(table, Mapping):
        raise ConfigError(f"{path}: [{name}] must be a table of settings")
    return _flatten(table, "")


def _flatten(table: Mapping[str, Any], prefix: str) -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in table.items():
        if isinstance(value, Mapping):
            flat.update(_flatten(value, f"{prefix}{key}_"))
        else:
            flat[prefix + key] = value
    return flat


def shown(value: Any, secret: bool = False) -> str:
    """A setting's value as a user would type it (secrets masked)."""
    if secret and value:
        return "***"
    if isinstance(value, tuple):
        return ",".join(map(str, value)) or "(empty)"
    return str(value) if value != "" else "(empty)"
