"""The services of `stratum up --with`: naming them, planning them (commands, configs, keys)
and the checks made before anything starts. No service runs here; tests/stack/
test_services_stack.py runs the real ones."""

from __future__ import annotations

import dataclasses
import os
import stat
from pathlib import Path

import pytest
import yaml

from adaptive_router.errors import ConfigError, StackError
from adaptive_router.proxy.config import ProxyConfig
from adaptive_router.stack import litellm
from adaptive_router.stack.config import ServicesConfig
from adaptive_router.stack.process import Launch
from adaptive_router.stack.services import check_ports, parse_with, plan_services
from adaptive_router.stack.venvs import VenvSpec, ensure_venv
from tests.stack.conftest import busy_port, stratum

ENGINES = {"tier_low": ["http://127.0.0.1:8081/v1"], "tier_high": ["http://127.0.0.1:8082/v1"]}
KEPT = ("litellm-master-key", "openwebui/secret-key")  # secrets a start keeps in the run dir


@pytest.fixture(autouse=True)
def no_master_key(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Plans here must not see a LITELLM_MASTER_KEY, or a .env, of the machine's."""
    monkeypatch.delenv("LITELLM_MASTER_KEY", raising=False)
    monkeypatch.chdir(tmp_path)


def test_with_takes_any_subset_in_start_order() -> None:
    assert parse_with("prometheus, LiteLLM") == ("litellm", "prometheus")
    assert parse_with("openwebui,openwebui") == ("openwebui",)
    assert parse_with(None) == ()
    assert parse_with("") == ()


def test_an_unknown_service_is_named_with_the_choices() -> None:
    with pytest.raises(ConfigError, match=r"unknown service.*grafana.*litellm, openwebui"):
        parse_with("litellm,grafana")


def test_up_refuses_an_unknown_service_before_starting_anything(tmp_path: Path) -> None:
    done = stratum("up", "--with", "litelm", "--run-dir", str(tmp_path / "run"))
    assert done.returncode == 2
    assert "unknown service(s) litelm; choose from litellm, openwebui, prometheus" in done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "run").exists()


def plan(
    tmp_path: Path, *names: str, dry_run: bool = True, port: int = 9000
) -> tuple[dict[str, Launch], tuple[str, ...]]:
    """The launches (by name) and notes of ``names`` for a router on ``port``."""
    config = ServicesConfig(venv_dir=str(tmp_path / "venvs"))
    planned = plan_services(
        names, config, ProxyConfig(port=port), ENGINES, tmp_path / "run", dry_run=dry_run
    )
    return {launch.name: launch for launch in planned.launches}, planned.notes


def test_litellm_serves_every_stratum_alias_through_stratum(tmp_path: Path) -> None:
    launch = plan(tmp_path, "litellm", port=9100)[0]["litellm"]
    ((path, text),) = launch.files
    assert path == tmp_path / "run" / "litellm.yaml"
    config = yaml.safe_load(text)
    models = {m["model_name"]: m["litellm_params"] for m in config["model_list"]}
    assert config["litellm_settings"]["num_retries"] == 0  # Stratum fails over itself
    assert set(models) >= {"gemma4-fast", "gemma4-smart", "gemma4-lite"}
    # the alias travels unchanged, so Stratum still routes (or forces a tier) on it
    assert models["gemma4-smart"]["model"] == "openai/gemma4-smart"
    assert models["gemma4-smart"]["api_base"] == "http://127.0.0.1:9100/v1"
    assert launch.argv[1:] == ("--config", str(path), "--host", "127.0.0.1", "--port", "4000")
    assert launch.health_url == "http://127.0.0.1:4000/health/liveliness"


def test_dry_run_writes_nothing_and_says_what_it_would_do(tmp_path: Path) -> None:
    launches, notes = plan(tmp_path, "litellm", "openwebui", "prometheus")
    assert not (tmp_path / "run").exists()
    assert any("installs litellm-1.110.2" in note for note in notes)
    assert any("installs open-webui-0.12.4" in note for note in notes)
    assert set(launches) == {"litellm", "openwebui", "prometheus"}


def test_openwebui_talks_to_litellm_when_it_runs_else_to_stratum(tmp_path: Path) -> None:
    both = dict(plan(tmp_path, "litellm", "openwebui")[0]["openwebui"].env)
    alone = dict(plan(tmp_path, "openwebui", port=9100)[0]["openwebui"].env)
    assert both["OPENAI_API_BASE_URL"] == "http://127.0.0.1:4000/v1"
    assert alone["OPENAI_API_BASE_URL"] == "http://127.0.0.1:9100/v1"
    for env in (both, alone):
        assert env["TASK_MODEL_EXTERNAL"] == "gemma4-lite"
        assert env["WEBUI_AUTH"] == "False"
        assert env["OFFLINE_MODE"] == "True"
        assert env["HF_HUB_OFFLINE"] == "1"
        assert env["DATA_DIR"] == str(tmp_path / "run" / "openwebui")


def test_prometheus_scrapes_the_router_and_every_engine(tmp_path: Path) -> None:
    launch = plan(tmp_path, "prometheus", port=9100)[0]["prometheus"]
    ((_path, text),) = launch.files
    jobs = {job["job_name"]: job for job in yaml.safe_load(text)["scrape_configs"]}
    assert jobs["stratum"]["static_configs"][0]["targets"] == ["127.0.0.1:9100"]
    engines = {g["labels"]["tier"]: g["targets"] for g in jobs["engine"]["static_configs"]}
    assert engines == {"tier_low": ["127.0.0.1:8081"], "tier_high": ["127.0.0.1:8082"]}
    assert "--web.listen-address=127.0.0.1:9090" in launch.argv


def test_master_key_comes_from_the_environment_then_dotenv_then_a_kept_file(
    tmp_path: Path,
) -> None:
    key_file, dotenv = tmp_path / "run" / "litellm-master-key", tmp_path / ".env"
    env = {"LITELLM_MASTER_KEY": "sk-from-env"}
    assert litellm.master_key(key_file, env, dotenv, True) == ("sk-from-env", "the environment")
    dotenv.write_text("# keys\nexport LITELLM_MASTER_KEY='sk-from-dotenv'\n")
    assert litellm.master_key(key_file, {}, dotenv, True)[0] == "sk-from-dotenv"
    dotenv.unlink()
    assert litellm.master_key(key_file, {}, dotenv, False)[0] is None  # dry run: nothing made
    assert not key_file.exists()
    key, source = litellm.master_key(key_file, {}, dotenv, True)
    assert key is not None
    assert key.startswith("sk-")
    assert source == f"generated in {key_file}"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert litellm.master_key(key_file, {}, dotenv, True) == (key, f"kept in {key_file}")


def test_a_generated_key_is_passed_to_litellm_and_openwebui(tmp_path: Path) -> None:
    launches, _notes = plan(tmp_path, "litellm", "openwebui", dry_run=False)
    key = (tmp_path / "run" / "litellm-master-key").read_text().strip()
    assert dict(launches["litellm"].env)["LITELLM_MASTER_KEY"] == key
    assert dict(launches["openwebui"].env)["OPENAI_API_KEY"] == key


def test_a_service_port_in_use_or_shared_is_refused(tmp_path: Path) -> None:
    with busy_port() as port:
        planned = plan_services(
            ["litellm"], ServicesConfig(litellm_port=port), ProxyConfig(), ENGINES, tmp_path
        )
        with pytest.raises(StackError, match=f"litellm: .*{port}"):
            check_ports(planned, [])
    shared = dataclasses.replace(planned, ports=(("prometheus", 8081),))
    with pytest.raises(StackError, match="prometheus: port 8081 is taken by another part"):
        check_ports(shared, [9000, 8081])


def test_a_failed_install_says_so_and_is_tried_again_next_time(tmp_path: Path) -> None:
    spec = VenvSpec("broken-1", (str(tmp_path / "no-such-project"),))
    said: list[str] = []
    with pytest.raises(StackError, match="installing broken-1 failed"):
        ensure_venv(spec, tmp_path, said.append)
    assert said[0].startswith(f"installing broken-1 into {tmp_path / 'broken-1'}")
    assert not (tmp_path / "broken-1" / ".stratum-installed").exists()


def test_dry_run_with_services_prints_them_but_never_the_keys(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("LITELLM_MASTER_KEY=sk-kept-in-dotenv\n")
    without_key = {k: v for k, v in os.environ.items() if k != "LITELLM_MASTER_KEY"}
    done = stratum(
        "up", "--dry-run", "--with", "litellm,openwebui,prometheus", "--run-dir",
        str(tmp_path / "run"), cwd=tmp_path, env=without_key,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    for launch in ("# litellm -> ", "# openwebui -> ", "# prometheus -> "):
        assert launch in done.stdout
    assert f"# LiteLLM master key: {tmp_path / '.env'}" in done.stdout
    assert "sk-kept-in-dotenv" not in done.stdout
    assert "OPENAI_API_KEY='<the LiteLLM master key>'" in done.stdout
    assert not (tmp_path / "run").exists()


def test_dry_run_masks_the_keys_a_real_start_kept(tmp_path: Path) -> None:
    plan(tmp_path, "litellm", "openwebui", dry_run=False)  # as a first `stratum up` leaves them
    kept = [(tmp_path / "run" / name).read_text().strip() for name in KEPT]
    launches, _notes = plan(tmp_path, "litellm", "openwebui")
    shown = " ".join(f"{k}={v}" for launch in launches.values() for k, v in launch.env)
    assert all(secret not in shown for secret in kept)
