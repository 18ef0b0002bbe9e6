from pathlib import Path

import pytest

from adaptive_router import ConfigError
from adaptive_router.proxy import ProxyConfig, TierConfig, load_settings


def test_file_tables_environment_and_flags(tmp_path: Path) -> None:
    path = tmp_path / "stratum.toml"
    path.write_text(
        "[routing]\ncomplexity_threshold = 0.5\n"
        "[proxy]\nport = 9100\napi_keys = ['a', 'b']\n"
        "[proxy.tier_low]\nurl = ['http://10.0.0.5:8000/v1']\nmodel = 'small'\n"
        "[proxy.tier_high]\nurl = ['http://h1:8080', 'http://h2:8080/v1/']\n"
    )
    env = {"STRATUM_TIER_HIGH_FIRST_BYTE_TIMEOUT_S": "300", "STRATUM_PORT": "9200"}
    settings = load_settings(path, environ=env, overrides={"port": 9300, "failover": False})
    assert settings.routing.complexity_threshold == 0.5
    proxy = settings.proxy
    assert proxy.port == 9300  # flags beat the environment, which beats the file
    assert proxy.api_keys == ("a", "b")
    assert proxy.tier_low == TierConfig(url=("http://10.0.0.5:8000/v1",), model="small")
    assert proxy.tier_high.url == ("http://h1:8080/v1", "http://h2:8080/v1")
    assert proxy.tier_high.first_byte_timeout_s == 300
    assert proxy.failover is False


def test_secrets_stay_out_of_repr() -> None:
    cfg = ProxyConfig(api_keys=("sk-secret",), tier_low=TierConfig(api_key="sk-up"))
    assert "sk-secret" not in repr(cfg)
    assert "sk-up" not in repr(cfg)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"tier_low_url": "ftp://x"}, "must look like http://host:port/v1"),
        ({"port": 70000}, "port must be a whole number from 0 to 65535"),
        ({"port": "nine"}, "port: cannot use 'nine'"),
        ({"failover": "maybe"}, "expected true or false"),
        ({"high_models": "auto"}, "model alias listed twice: auto"),
        ({"tier_high_idle_timeout_s": 0}, "idle_timeout_s must be a number from 0.01"),
    ],
)
def test_bad_proxy_settings_are_named(overrides: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_settings(environ={}, overrides=overrides)


def test_unknown_table_and_missing_upstreams(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text("proxi:\n  port: 1\n")
    with pytest.raises(ConfigError, match="unknown table"):
        load_settings(path, environ={})
    with pytest.raises(ConfigError, match="tier_low has no upstream: pass --tier-low-url"):
        ProxyConfig().require_upstreams()


def test_aliases_map_to_tiers() -> None:
    targets = ProxyConfig(tier_header="X-Tier").alias_targets()
    assert targets == {
        "gemma4-fast": None, "auto": None, "gemma4-smart": "tier_high", "gemma4-lite": "tier_low",
    }  # fmt: skip
    assert ProxyConfig(tier_header="X-Tier").tier_header == "x-tier"
