import dataclasses
from pathlib import Path

import pytest

from adaptive_router import ConfigError, RoutingConfig, load_config
from adaptive_router.bench.settings import BenchSettings
from adaptive_router.proxy import ProxyConfig
from adaptive_router.settings.fields import env_var
from adaptive_router.settings.files import setting_docs

FLOAT_FIELDS = [f for f in dataclasses.fields(RoutingConfig) if f.type == "float"]


def test_defaults_match_the_documented_seed_values() -> None:
    cfg = RoutingConfig()
    assert cfg.complexity_threshold == 0.65
    assert cfg.vram_headroom_gb == 1.5
    assert cfg.latency_sla_ms == 2000
    assert cfg.sla_warmup_seed_ms == 0
    assert cfg.vram_poll_interval_ms == 15
    assert cfg.gpu_util_circuit_pct == 90
    assert cfg.gpu_indices == ()
    assert cfg.default_tier == "tier_high"


def test_is_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        RoutingConfig().complexity_threshold = 0.1  # type: ignore[misc]


@pytest.mark.parametrize("field", FLOAT_FIELDS, ids=lambda f: f.name)
def test_out_of_range_value_names_field_and_range(field: dataclasses.Field[float]) -> None:
    too_big = field.metadata["hi"] + 1
    with pytest.raises(ValueError, match=rf"{field.name} must be a number from .* to .*"):
        RoutingConfig(**{field.name: too_big})
    with pytest.raises(ConfigError, match=field.name):
        RoutingConfig(**{field.name: float("nan")})


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"complexity_threshold": 1.5}, "complexity_threshold must be a number from 0 to 1"),
        ({"complexity_threshold": "high"}, "complexity_threshold"),
        ({"vram_headroom_gb": -1}, "vram_headroom_gb"),
        ({"gpu_util_circuit_pct": True}, "gpu_util_circuit_pct"),
        ({"gpu_indices": (-1,)}, "gpu_indices"),
        ({"gpu_indices": [0]}, "gpu_indices"),
        ({"default_tier": "tier_mid"}, "default_tier"),
    ],
)
def test_bad_values_are_value_errors(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        RoutingConfig(**kwargs)  # type: ignore[arg-type]


def test_from_mapping_converts_strings_and_rejects_unknown_keys() -> None:
    cfg = RoutingConfig.from_mapping(
        {"complexity-threshold": "0.7", "gpu_indices": "0, 2", "default_tier": "low"}
    )
    assert cfg.complexity_threshold == 0.7
    assert cfg.gpu_indices == (0, 2)
    assert cfg.default_tier == "tier_low"
    with pytest.raises(ConfigError, match="unknown setting 'complexity'"):
        RoutingConfig.from_mapping({"complexity": 0.5})
    with pytest.raises(ConfigError, match="gpu_indices: cannot use 'a,b'"):
        RoutingConfig.from_mapping({"gpu_indices": "a,b"})


def test_load_from_toml_and_yaml(tmp_path: Path) -> None:
    toml = tmp_path / "stratum.toml"
    toml.write_text("[routing]\ncomplexity_threshold = 0.5\ngpu_indices = [1]\n")
    yml = tmp_path / "stratum.yaml"
    yml.write_text("routing:\n  latency_sla_ms: 900\n  default_tier: tier_low\n")
    assert load_config(toml, environ={}).complexity_threshold == 0.5
    assert load_config(toml, environ={}).gpu_indices == (1,)
    assert load_config(yml, environ={}).latency_sla_ms == 900
    assert load_config(yml, environ={}).default_tier == "tier_low"


def test_precedence_file_then_env_then_overrides(tmp_path: Path) -> None:
    path = tmp_path / "s.toml"
    path.write_text("[routing]\ncomplexity_threshold = 0.5\nlatency_sla_ms = 100\n")
    env = {env_var("complexity_threshold"): "0.6", "UNRELATED": "x"}
    cfg = load_config(path, environ=env, overrides={"latency_sla_ms": 300.0})
    assert cfg.complexity_threshold == 0.6
    assert cfg.latency_sla_ms == 300.0


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("missing.toml", None, "cannot read config file"),
        ("bad.toml", "[routing\nx=", "not valid TOML"),
        ("bad.yaml", "routing: [1, 2", "not valid YAML"),
        ("list.yaml", "- 1\n- 2\n", "expected a table"),
        ("flat.toml", "routing = 3\n", r"\[routing\] must be a table"),
        ("unknown.toml", "[routing]\nthreshold = 1\n", "unknown setting 'threshold'"),
        ("range.toml", "[routing]\ncomplexity_threshold = 7\n", "from 0 to 1"),
        ("cfg.ini", "[routing]\n", "must end in .toml"),
    ],
)
def test_bad_files_give_clear_errors(
    tmp_path: Path, name: str, text: str | None, message: str
) -> None:
    path = tmp_path / name
    if text is not None:
        path.write_text(text)
    with pytest.raises(ConfigError, match=message):
        load_config(path, environ={})


def test_bad_environment_value_is_named() -> None:
    with pytest.raises(ConfigError, match="latency_sla_ms"):
        load_config(environ={env_var("latency_sla_ms"): "fast"})


@pytest.mark.parametrize(
    "cls", [RoutingConfig, ProxyConfig, BenchSettings], ids=lambda c: c.__name__
)
def test_every_setting_is_documented(cls: type) -> None:
    doc = (Path(__file__).resolve().parents[1] / "docs" / "configuration.md").read_text()
    for name, env, default, _help in setting_docs(cls):
        row = next((line for line in doc.splitlines() if line.startswith(f"| `{name}` ")), None)
        assert row is not None, f"{name} missing from docs/configuration.md"
        assert f"`{env}`" in row, f"{name}: environment variable not documented"
        assert f"`{default}`" in row, f"{name}: documented default is not {default}"
