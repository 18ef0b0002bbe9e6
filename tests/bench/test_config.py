"""Target syntax and BenchConfig validation."""

from __future__ import annotations

import pytest

from adaptive_router.bench.config import (
    BenchConfig,
    Target,
    apply_models,
    parse_levels,
    parse_target,
)
from adaptive_router.errors import ConfigError


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("low=http://127.0.0.1:8081", Target("low", "http://127.0.0.1:8081/v1", "auto")),
        ("r=http://127.0.0.1:9000/v1@auto", Target("r", "http://127.0.0.1:9000/v1", "auto")),
        ("h=http://h:9000/v1/@gemma4-smart", Target("h", "http://h:9000/v1", "gemma4-smart")),
        ("v=http://gpu:8000/v1@org/model-7b", Target("v", "http://gpu:8000/v1", "org/model-7b")),
        ("u=https://me:pw@api.example/v1", Target("u", "https://me:pw@api.example/v1", "auto")),
        ("u=https://me:pw@api.example/v1@m", Target("u", "https://me:pw@api.example/v1", "m")),
        ("n=http://gpu:8000@m", Target("n", "http://gpu:8000/v1", "m")),
    ],
)
def test_parse_target(spec: str, expected: Target) -> None:
    assert parse_target(spec) == expected


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("http://127.0.0.1:8081/v1", "name=http"),
        ("x=", "name=http"),
        ("x=ftp://host/v1", "must look like http://host:port/v1"),
        ("x=localhost:8000", "must look like http://host:port/v1"),
        ("x=http://host:99999/v1", "bad port"),
    ],
)
def test_parse_target_errors(spec: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_target(spec)


def test_apply_models() -> None:
    targets = [Target("a", "http://a/v1"), Target("b", "http://b/v1")]
    assert [t.model for t in apply_models(targets, ("m",))] == ["m", "m"]
    assert [t.model for t in apply_models(targets, ("b=x",))] == ["auto", "x"]
    with pytest.raises(ConfigError, match="no target named 'c'"):
        apply_models(targets, ("c=x",))


def test_levels() -> None:
    assert parse_levels("1, 10,50", int, "--concurrency") == (1, 10, 50)
    with pytest.raises(ConfigError, match="positive"):
        parse_levels("0", int, "--concurrency")
    with pytest.raises(ConfigError, match="comma-separated"):
        parse_levels("a,b", float, "--rate")


def test_config_validation() -> None:
    one = (Target("a", "http://a/v1"),)
    assert BenchConfig(one).levels == (1.0, 10.0, 50.0)
    assert BenchConfig(one, rates=(2.0,)).open_loop
    with pytest.raises(ConfigError, match="at least one --target"):
        BenchConfig(())
    with pytest.raises(ConfigError, match="must differ"):
        BenchConfig(one * 2)
    with pytest.raises(ConfigError, match="--requests or --duration"):
        BenchConfig(one, requests=None)
    with pytest.raises(ConfigError, match="between 1 and"):
        BenchConfig(one, concurrencies=(5000,))
