"""Command-line flags made from settings classes: one flag per setting, each with its env var.

Every command of ``stratum`` gets its flags here, so a setting's flag, environment variable,
help text and default are written once, in its settings class. A flag is
``--<flat-name-with-dashes>`` (``--no-...`` too for a boolean); every flag defaults to None
(not given), so the loader in ``settings.files`` can tell a flag from the file and
environment beneath it.
"""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from adaptive_router.settings.fields import env_var, flat_fields, shown, unwrap_optional

F = TypeVar("F", bound=Callable[..., Any])

_CLICK_TYPES: dict[Any, Any] = {float: click.FLOAT, int: click.INT, bool: click.BOOL}


def settings_options(cls: type) -> Callable[[F], F]:
    """One flag per setting of ``cls`` (nested settings flattened), each with its env var."""

    def decorate(func: F) -> F:
        for name, f, tp in reversed(list(flat_fields(cls))):
            func = _option(cls, name, f, tp)(func)
        return func

    return decorate


def _option(cls: type, name: str, f: dataclasses.Field[Any], tp: Any) -> Callable[[F], F]:
    tp = unwrap_optional(tp)
    flag = "--" + name.replace("_", "-")
    repeat = bool(f.metadata.get("repeat"))
    return click.option(
        *([f"{flag}/--no-{flag[2:]}"] if tp is bool else [flag]),
        name,
        type=_CLICK_TYPES.get(tp, str),
        default=None,
        multiple=repeat,
        callback=_none_if_empty if repeat else None,
        metavar=f.metadata.get("metavar") or _choices(tp),
        envvar=env_var(name, cls),
        show_envvar=True,
        help=_help(f),
    )


def _none_if_empty(_ctx: click.Context, _param: click.Parameter, value: Any) -> Any:
    """A repeatable flag not given is None (not set), not an empty tuple (set to nothing)."""
    return value or None


def _choices(tp: Any) -> str | None:
    if typing.get_origin(tp) is typing.Literal:
        return "[" + "|".join(map(str, typing.get_args(tp))) + "]"
    return None


def _help(f: dataclasses.Field[Any]) -> str:
    """The setting's help and, unless it is None (explained in the help), its default."""
    text: str = f.metadata["help"]
    if f.default is None:
        return text
    return f"{text} [default: {shown(f.default, f.metadata['secret'])}]"


def config_file_option(func: F) -> F:
    """``--config FILE`` (env STRATUM_CONFIG)."""
    option = click.option(
        "--config",
        "config_path",
        type=click.Path(dir_okay=False, path_type=Path),
        envvar="STRATUM_CONFIG",
        show_envvar=True,
        help="TOML or YAML settings file (flags and environment variables win over it).",
    )
    return option(func)
