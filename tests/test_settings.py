"""The settings machinery: optional and repeatable settings, ranges, env prefixes, layers."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import pytest
from click.testing import CliRunner

from adaptive_router import ConfigError
from adaptive_router.settings.fields import env_var, from_flat, setting, shown, validate
from adaptive_router.settings.files import TABLES, load_sections, setting_docs
from adaptive_router.settings.flags import settings_options


@dataclass(frozen=True, slots=True)
class Demo:
    ENV_PREFIX: ClassVar[str] = "DEMO_"

    name: tuple[str, ...] = setting((), "Repeatable.", repeat=True)
    count: int | None = setting(None, "Optional, at least 1.", 1)
    share: float = setting(0.5, "A share.", 0.0, 1.0)

    def __post_init__(self) -> None:
        validate(self)


def test_optional_settings_may_be_unset_and_are_checked_when_set() -> None:
    assert from_flat(Demo, {"count": ""}).count is None
    assert from_flat(Demo, {"count": "3"}).count == 3
    with pytest.raises(ConfigError, match=r"count must be a whole number >= 1, got 0"):
        Demo(count=0)
    assert shown(None) == "(none)"


def test_repeatable_settings_split_on_spaces() -> None:
    assert from_flat(Demo, {"name": "a=http://x/v1,y b"}).name == ("a=http://x/v1,y", "b")
    assert from_flat(Demo, {"name": ["a", "b"]}).name == ("a", "b")


def test_a_class_may_set_its_environment_prefix() -> None:
    assert env_var("count", Demo) == "DEMO_COUNT"
    assert env_var("count") == "STRATUM_COUNT"
    assert setting_docs(Demo)[1][:3] == ("count", "DEMO_COUNT", "(none)")


def test_layers_base_file_environment_overrides(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text("bench:\n  share: 0.2\n")  # any known table name will do for Demo
    assert "bench" in TABLES

    def load(**kwargs: object) -> Demo:
        demo: Demo = load_sections(path, {"bench": Demo}, **kwargs)["bench"]  # type: ignore[arg-type]
        return demo

    base = {"bench": {"share": 0.9, "count": 4}}
    assert (load(environ={}, base=base).share, load(environ={}, base=base).count) == (0.2, 4)
    assert load(environ={"DEMO_SHARE": "0.3"}, base=base).share == 0.3
    assert load(environ={"DEMO_SHARE": "0.3"}, overrides={"share": 0.4}).share == 0.4


def test_flags_come_from_the_class() -> None:
    import click

    @click.command()
    @settings_options(Demo)
    def command(**flags: object) -> None:
        click.echo(repr(sorted(flags.items())))

    done = CliRunner().invoke(command, ["--name", "a", "--name", "b", "--share", "0.1"])
    assert done.output.strip() == "[('count', None), ('name', ('a', 'b')), ('share', 0.1)]"
    unset = CliRunner().invoke(command, [], env={"DEMO_NAME": "x y"})
    assert "('name', ('x', 'y'))" in unset.output
    assert "('name', None)" in CliRunner().invoke(command, []).output
    helped = CliRunner().invoke(command, ["--help"]).output
    assert "DEMO_SHARE" in helped
    assert "[default: 0.5]" in helped
