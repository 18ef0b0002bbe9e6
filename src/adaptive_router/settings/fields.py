"""The settings machinery: how a frozen settings dataclass declares, converts and checks values.

A settings class declares each field with :func:`setting` (default, help, allowed range),
calls :func:`validate` from ``__post_init__`` and is built from loosely typed values (file,
environment, flags) with :func:`from_flat`. Nested settings dataclasses are flattened with
their field name as prefix: ``tier_low.url`` is the flat name ``tier_low_url``. Each flat
name has an environment variable, ``STRATUM_<NAME>`` unless the class sets another prefix in
a ``ENV_PREFIX`` class variable (``stratum bench``'s settings: ``STRATUM_BENCH_<NAME>``).
``settings.files`` loads them (file < environment < flags); ``settings.flags`` makes the flags.

    >>> @dataclasses.dataclass(frozen=True)
    ... class Demo:
    ...     port: int = setting(9000, "Port to listen on.", 0, 65535)
    ...     def __post_init__(self) -> None:
    ...         validate(self)
    >>> from_flat(Demo, {"port": "8080"}).port
    8080
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from collections.abc import Iterator, Mapping
from typing import Any

from adaptive_router.errors import ConfigError

ENV_PREFIX = "STRATUM_"


def setting(
    default: Any,
    help: str,
    lo: float | None = None,
    hi: float | None = None,
    secret: bool = False,
    *,
    metavar: str | None = None,
    repeat: bool = False,
) -> Any:
    """A dataclass field carrying its help text, allowed range (inclusive) and secrecy.

    ``metavar`` names the value in ``--help``; ``repeat`` makes a tuple setting a flag given
    once per item (``--target a --target b``; space-separated in its environment variable)
    instead of one comma-separated value.
    """
    meta = {"help": help, "lo": lo, "hi": hi, "secret": secret, "metavar": metavar}
    meta["repeat"] = repeat
    return dataclasses.field(default=default, metadata=meta, repr=not secret)


def env_var(flat_name: str, cls: type | None = None) -> str:
    """The environment variable of a flat setting name: ``STRATUM_<NAME>`` by default."""
    return getattr(cls, "ENV_PREFIX", ENV_PREFIX) + flat_name.upper()


def hints(cls: type) -> dict[str, Any]:
    """The resolved type of each field of a settings class."""
    return typing.get_type_hints(cls)


def is_settings(tp: Any) -> bool:
    return isinstance(tp, type) and dataclasses.is_dataclass(tp)


def unwrap_optional(tp: Any) -> Any:
    """``X`` for ``X | None`` (a setting that may be left unset), else ``tp`` itself."""
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(args) == 1:
            return args[0]
    return tp


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
    """Check every numeric field of ``obj`` against its declared range, and Literal choices.

    A field typed ``X | None`` may be None; any other value is checked as an ``X``.
    """
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        tp = hints(type(obj))[f.name]
        if value is None and unwrap_optional(tp) is not tp:
            continue
        tp = unwrap_optional(tp)
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
    if lo is not None and hi is not None:
        bounds = f" from {lo:g} to {hi:g}"
    else:
        bounds = f" >= {lo:g}" if lo is not None else f" <= {hi:g}" if hi is not None else ""
    raise ConfigError(f"{name} must be {kind}{bounds}, got {value!r}")


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
        f, tp = leaves[name]
        converted[name] = convert(name, tp, raw, source, repeat=f.metadata.get("repeat", False))
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


def convert(name: str, tp: Any, raw: Any, source: str, repeat: bool = False) -> Any:
    """Convert a raw value (often a string) to the field's type.

    A tuple is written comma-separated, or space-separated for a ``repeat`` setting. An
    optional setting (``X | None``) is None when ``raw`` is None or an empty string.
    """
    try:
        if unwrap_optional(tp) is not tp:
            return None if raw is None or raw == "" else _convert(unwrap_optional(tp), raw, repeat)
        return _convert(tp, raw, repeat)
    except (TypeError, ValueError) as exc:
        problem = str(exc) or "wrong type"
        raise ConfigError(f"{source}: {name}: cannot use {raw!r} ({problem})") from exc


def _convert(tp: Any, raw: Any, repeat: bool = False) -> Any:
    if tp is bool:
        return _convert_bool(raw)
    if tp in (int, float):
        if isinstance(raw, bool):
            raise ValueError("expected a number")
        return tp(raw)
    if tp is str:
        return str(raw)
    origin = typing.get_origin(tp)
    if origin is tuple:
        item = typing.get_args(tp)[0]
        parts = raw.split(None if repeat else ",") if isinstance(raw, str) else raw
        return tuple(_convert(item, p.strip() if isinstance(p, str) else p) for p in parts if p)
    if origin is typing.Literal:
        return _convert_literal(tp, raw)
    return raw


def _convert_bool(raw: Any) -> bool:
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, str) and raw.strip().lower() in ("1", "true", "yes", "on"):
        return True
    if isinstance(raw, str) and raw.strip().lower() in ("0", "false", "no", "off", ""):
        return False
    raise ValueError("expected true or false")


def _convert_literal(tp: Any, raw: Any) -> Any:
    allowed = typing.get_args(tp)
    text = str(raw).strip().lower()
    for option in allowed:  # tiers may be written "low"/"high" as well as "tier_low"
        if text in (option, option.removeprefix("tier_")):
            return option
    raise ValueError(f"use one of {', '.join(allowed)}")


def shown(value: Any, secret: bool = False) -> str:
    """A setting's value as a user would type it (secrets masked)."""
    if secret and value:
        return "***"
    if value is None:
        return "(none)"
    if isinstance(value, tuple):
        return ",".join(map(str, value)) or "(empty)"
    return str(value) if value != "" else "(empty)"
