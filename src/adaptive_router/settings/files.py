"""Loading settings: one TOML or YAML file of tables, the environment, and flags.

Every settings class of the project is loaded here, in rising precedence: its declared
defaults, ``base`` values (a preset), its table of the settings file (``[routing]``,
``[proxy]``, ``[stack]``, ``[bench]``; nested tables are flattened: ``[proxy.tier_low]``
``url`` is ``tier_low_url``), its environment variables and explicit overrides (CLI flags).

    >>> from adaptive_router.config import RoutingConfig
    >>> env = {"STRATUM_COMPLEXITY_THRESHOLD": "0.5"}
    >>> load_sections(None, {"routing": RoutingConfig}, environ=env)["routing"].complexity_threshold
    0.5
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from adaptive_router.errors import ConfigError
from adaptive_router.settings.fields import env_var, flat_fields, from_flat, shown

# The tables a settings file may hold: one per settings class of the project.
TABLES = ("routing", "proxy", "stack", "bench")


def load_sections(
    path: str | os.PathLike[str] | None,
    classes: Mapping[str, type],
    *,
    environ: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
    base: Mapping[str, Mapping[str, Any]] | None = None,
) -> dict[str, Any]:
    """Build each settings class (by table name) from base < file < environment < overrides.

    ``overrides`` maps flat setting names (as the CLI flags spell them) to values; None
    values are ignored, names of other classes are left to them. ``base`` maps a table name
    to flat values that replace the class's defaults (a preset) but lose to everything else.
    """
    data = read_config_file(Path(path)) if path is not None else {}
    unknown = set(data) - set(TABLES)
    if unknown:
        raise ConfigError(
            f"{path}: unknown table(s) {', '.join(sorted(unknown))}; "
            f"known tables: {', '.join(TABLES)}"
        )
    built: dict[str, Any] = {}
    for name, cls in classes.items():
        file_values = dict((base or {}).get(name, {}))
        if path is not None:
            file_values.update(section(data, name, Path(path)))
        names = {flat for flat, _f, _tp in flat_fields(cls)}
        wanted = {k: v for k, v in (overrides or {}).items() if k in names and v is not None}
        built[name] = from_flat(cls, merged(cls, file_values, environ, wanted), name)
    return built


def merged(
    cls: type,
    file_values: Mapping[str, Any],
    environ: Mapping[str, str] | None,
    overrides: Mapping[str, Any],
) -> dict[str, Any]:
    """Flat values for ``cls``: file < environment < overrides."""
    env = os.environ if environ is None else environ
    values = dict(file_values)
    for name, _f, _tp in flat_fields(cls):
        if env_var(name, cls) in env:
            values[name] = env[env_var(name, cls)]
    values.update(overrides)
    return values


def setting_docs(cls: type) -> list[tuple[str, str, str, str]]:
    """(flat name, environment variable, default, help) for every setting of ``cls``."""
    return [
        (name, env_var(name, cls), shown(f.default), f.metadata["help"])
        for name, f, _tp in flat_fields(cls)
    ]


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
