"""The deployment files checked by the real tools: promtool (config, rules, rule unit tests),
check-jsonschema with the Compose spec, hadolint and shellcheck; and the pieces that must agree
with each other (compose's Prometheus config and the local stack's, the mounted paths, the
dashboards' datasource)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import yaml

from adaptive_router.errors import StackError
from adaptive_router.proxy.config import ProxyConfig
from adaptive_router.stack import litellm, prometheus
from adaptive_router.stack.prometheus import RULES_FILE, scrape_config, write_config
from tests.deploy.conftest import REPO, need

DEPLOY = REPO / "deploy"
PROMTOOL = "apt-get install prometheus"
DEV_EXTRA = "pip install -e '.[dev]'"


def run(*command: str, cwd: Path = REPO) -> str:
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, f"{' '.join(command)}:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def test_promtool_checks_the_rules() -> None:
    out = run(need("promtool", PROMTOOL), "check", "rules", str(RULES_FILE))
    assert "SUCCESS: 6 rules found" in out


def test_each_alert_fires_in_promtools_unit_tests() -> None:
    tests = DEPLOY / "prometheus" / "alerts.test.yml"
    run(need("promtool", PROMTOOL), "test", "rules", str(tests))
    cases = yaml.safe_load(tests.read_text())["tests"]
    fired = {c["alertname"] for t in cases for c in t["alert_rule_test"] if c["exp_alerts"]}
    groups = yaml.safe_load(RULES_FILE.read_text())["groups"]
    alerts = {rule["alert"] for group in groups for rule in group["rules"]}
    assert fired == alerts


def test_promtool_checks_the_local_stacks_config(tmp_path: Path) -> None:
    config = write_config(
        tmp_path,
        "http://127.0.0.1:9000",
        {"tier_low": ["http://127.0.0.1:8081/v1", "http://127.0.0.1:8082/v1"], "tier_high": []},
    )
    out = run(need("promtool", PROMTOOL), "check", "config", str(config))
    assert "SUCCESS" in out
    jobs = yaml.safe_load(config.read_text())["scrape_configs"]
    assert jobs[1]["static_configs"] == [
        {"targets": ["127.0.0.1:8081", "127.0.0.1:8082"], "labels": {"tier": "tier_low"}}
    ]


def test_composes_prometheus_config_is_the_local_ones_shape() -> None:
    """deploy/prometheus/prometheus.yml is what scrape_config builds for the compose services,
    so the rules and dashboards select the same jobs and labels in both stacks."""
    path = DEPLOY / "prometheus" / "prometheus.yml"
    expected = scrape_config(
        "stratum:9000",
        {"tier_low": ["vllm:8000"], "tier_high": ["llama:8080"]},
        "/etc/prometheus/alerts.yml",
        interval_s=15,
    )
    assert yaml.safe_load(path.read_text()) == expected
    run(need("promtool", PROMTOOL), "check", "config", "--syntax-only", str(path))


def test_compose_file_follows_the_compose_spec() -> None:
    tool = need("check-jsonschema", DEV_EXTRA)
    run(tool, "--builtin-schema", "vendor.compose-spec", str(DEPLOY / "compose.yaml"))


def test_compose_mounts_files_that_exist() -> None:
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    mounts = {
        target: (DEPLOY / source).resolve()
        for service in compose["services"].values()
        for volume in service.get("volumes", [])
        if volume.startswith(".")
        for source, target, *_ in [volume.split(":")]
    }
    assert mounts["/etc/prometheus/alerts.yml"] == RULES_FILE  # the one copy of the rules
    assert all(path.exists() for path in mounts.values()), mounts
    images = [s["image"] for s in compose["services"].values()]
    assert all(":" in i and not i.endswith((":latest", ":main")) for i in images), images


def test_dockerfile_passes_hadolint() -> None:
    run(need("hadolint", DEV_EXTRA), str(REPO / "Dockerfile"))


@pytest.mark.parametrize("script", ["start.sh", "health-check.sh"])
def test_scripts_pass_shellcheck(script: str) -> None:
    run(need("shellcheck", "apt-get install shellcheck"), str(REPO / "scripts" / script))


def test_dashboards_use_the_provisioned_datasource() -> None:
    provisioned = yaml.safe_load(
        (DEPLOY / "grafana" / "provisioning" / "datasources" / "prometheus.yml").read_text()
    )
    uid = provisioned["datasources"][0]["uid"]
    uids = set()
    for path in sorted((DEPLOY / "grafana" / "dashboards").glob("*.json")):
        board = json.loads(path.read_text())
        uids.add(board["uid"])
        ids = [panel["id"] for panel in board["panels"]]
        assert len(ids) == len(set(ids)), f"{path.name}: panel ids repeat"
        for panel in board["panels"]:
            assert panel["datasource"]["uid"] == uid
            assert all(t["datasource"]["uid"] == uid for t in panel["targets"])
    assert uids == {"stratum-overview", "stratum-engines", "stratum-gpu"}


def test_a_missing_prometheus_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "")
    with pytest.raises(StackError, match="apt-get install prometheus"):
        prometheus.prometheus_binary(install=False)


@pytest.mark.parametrize(
    ("url", "target"),
    [
        ("http://127.0.0.1:8081/v1", "127.0.0.1:8081"),
        ("http://[::1]:9000", "[::1]:9000"),
        ("engine.internal:8000", "engine.internal:8000"),
        ("http://stratum/v1", "stratum:80"),
    ],
)
def test_scrape_targets_come_from_the_stacks_urls(url: str, target: str, tmp_path: Path) -> None:
    config = yaml.safe_load(write_config(tmp_path, url, {}).read_text())
    assert config["scrape_configs"][0]["static_configs"] == [{"targets": [target]}]


def test_an_https_engine_is_scraped_over_https() -> None:
    """An external tier behind TLS: Prometheus takes the scheme from the group's __scheme__
    label (checked by hand against Prometheus' /api/v1/targets: https://gpu-box:443/metrics)."""
    urls = {"tier_high": ["http://127.0.0.1:8082/v1", "https://gpu-box/v1"]}
    config = yaml.safe_load(prometheus.config_text("http://127.0.0.1:9000", urls))
    assert config["scrape_configs"][1]["static_configs"] == [
        {"targets": ["127.0.0.1:8082"], "labels": {"tier": "tier_high"}},
        {"targets": ["gpu-box:443"], "labels": {"tier": "tier_high", "__scheme__": "https"}},
    ]


@pytest.mark.parametrize("url", ["http://:9000/v1", "ftp://host:21", "http://host:port/v1"])
def test_a_url_prometheus_cannot_scrape_is_refused(url: str) -> None:
    with pytest.raises(StackError, match="an http\\(s\\) URL with a host is needed"):
        prometheus.config_text(url, {})


def test_the_command_serves_on_the_port_with_the_data_dir() -> None:
    command = prometheus.prometheus_command(
        Path("/usr/bin/prometheus"), Path("/run/prometheus.yml"), Path("/run/data"), 9090
    )
    assert command == [
        "/usr/bin/prometheus",
        "--config.file=/run/prometheus.yml",
        "--storage.tsdb.path=/run/data",
        "--storage.tsdb.retention.time=7d",
        "--web.listen-address=127.0.0.1:9090",
    ]


def test_composes_litellm_models_are_the_ones_stratum_up_generates() -> None:
    """deploy/litellm/config.yaml is static; each model in it must be what the local stack's
    generated LiteLLM config has for the same alias (stack/litellm.py)."""
    static = yaml.safe_load((DEPLOY / "litellm" / "config.yaml").read_text())["model_list"]
    aliases = ProxyConfig().alias_targets()
    text = litellm.config_text("http://stratum:9000", aliases, "os.environ/STRATUM_API_KEY")
    generated = {m["model_name"]: m for m in yaml.safe_load(text)["model_list"]}
    assert [m["model_name"] for m in static] == ["gemma4-fast", "gemma4-smart", "gemma4-lite"]
    assert all(model == generated[model["model_name"]] for model in static)
