"""The command line: help, one-line errors (never a traceback), presets, env vars."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from adaptive_router.bench.cli import bench_command, build_config, burst_warning
from adaptive_router.bench.fake_engine import free_port
from adaptive_router.bench.question import local_engines
from adaptive_router.stack.state import PartState, RunDir, StackState


def run(*args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    done = CliRunner().invoke(bench_command, list(args), env=env)
    assert done.exception is None or isinstance(done.exception, SystemExit), done.exc_info
    return done.exit_code, done.output


def test_help_documents_targets_ttft_and_env_vars() -> None:
    code, out = run("--help")
    assert code == 0
    for text in ("NAME=URL[@MODEL]", "llmperf", "STRATUM_BENCH_TARGET", "routing-question"):
        assert text in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--target", "nourl"], "--target must look like name=http"),
        (["--target", "a=ftp://x/v1"], "target URL must look like http://host:port/v1"),
        (["--target", "a=http://x/v1", "--concurrency", "0"], "positive"),
        ([], "give at least one --target"),
        (["--target", "a=http://x/v1", "--model", "b=m"], "no target named 'b'"),
    ],
)
def test_bad_options_are_one_line_usage_errors(args: list[str], message: str) -> None:
    code, out = run(*args)
    assert code == 2
    assert message in out
    assert "Traceback" not in out


def test_unreachable_target_is_one_line(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}/v1"
    code, out = run("--target", f"gone={url}", "--out", str(tmp_path), "--no-progress")
    assert code == 1
    assert f"Error: target 'gone' ({url}) is unreachable" in out
    assert "Traceback" not in out
    assert not (tmp_path / "results.json").exists()


def test_bad_data_dir_is_one_line(tmp_path: Path) -> None:
    code, out = run("--target", "a=http://127.0.0.1:9/v1", "--data-dir", str(tmp_path))
    assert code == 1
    assert "sharegpt_prompts.jsonl: cannot read it" in out


def config_for(*args: str, env: dict[str, str] | None = None) -> object:
    ctx = bench_command.make_context("bench", list(args))
    return build_config(dict(ctx.params))


def test_preset_fills_what_was_not_given() -> None:
    config = config_for("--preset", "routing-question", "--router-url", "http://r:1/v1",
                        "--requests", "9")  # fmt: skip
    assert [(t.name, t.model) for t in config.targets] == [  # type: ignore[attr-defined]
        ("routed", "auto"), ("all-high", "gemma4-smart"), ("all-low", "gemma4-lite"),
    ]  # fmt: skip
    assert config.workload == "mixed"  # type: ignore[attr-defined]
    assert config.requests == 9  # type: ignore[attr-defined]
    assert config.ignore_eos is True  # type: ignore[attr-defined]
    assert config.concurrencies == (8,)  # type: ignore[attr-defined]


def test_env_vars_and_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STRATUM_BENCH_TARGET", "a=http://a:1/v1 b=http://b:2/v1@m")
    monkeypatch.setenv("STRATUM_BENCH_WORKLOAD", "synthetic")
    config = config_for("--duration", "5")
    assert [t.name for t in config.targets] == ["a", "b"]  # type: ignore[attr-defined]
    assert config.ignore_eos is True  # type: ignore[attr-defined]  # on for synthetic
    assert config.requests is None  # type: ignore[attr-defined]  # only the duration bounds it
    assert config.unique_prefix is True  # type: ignore[attr-defined]
    monkeypatch.setenv("STRATUM_BENCH_UNIQUE_PREFIX", "false")
    assert config_for("--duration", "5").unique_prefix is False  # type: ignore[attr-defined]


def test_unusable_out_dir_fails_before_the_run(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    code, out = run("--target", "a=http://127.0.0.1:9/v1", "--out", str(blocker / "sub"))
    assert code == 1
    assert "Error: cannot create --out" in out


def test_too_few_requests_for_the_concurrency_gets_a_note() -> None:
    few = config_for("--target", "a=http://a:1/v1", "--concurrency", "1,50", "--requests", "60")
    assert "single burst of 50" in (burst_warning(few) or "")  # type: ignore[arg-type]
    enough = config_for("--target", "a=http://a:1/v1", "--concurrency", "50", "--requests", "100")
    assert burst_warning(enough) is None  # type: ignore[arg-type]
    poisson = config_for("--target", "a=http://a:1/v1", "--rate", "50", "--requests", "10")
    assert burst_warning(poisson) is None  # type: ignore[arg-type]


def test_preset_sends_baselines_to_the_local_stacks_engines(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    state = StackState(1, "http://127.0.0.1:9000", [
        PartState("router", "http://127.0.0.1:9000", 1),
        PartState("tier_low", "http://127.0.0.1:8081/v1", 2),
        PartState("tier_high", "http://127.0.0.1:8082/v1", 3),
    ])  # fmt: skip
    RunDir(tmp_path).write(state)
    monkeypatch.setenv("STRATUM_RUN_DIR", str(tmp_path))
    config = config_for("--preset", "routing-question")
    assert [(t.name, t.url) for t in config.targets] == [  # type: ignore[attr-defined]
        ("routed", "http://127.0.0.1:9000/v1"),
        ("all-high", "http://127.0.0.1:8082/v1"),
        ("all-low", "http://127.0.0.1:8081/v1"),
    ]
    elsewhere = config_for("--preset", "routing-question", "--router-url", "http://gw:9000/v1")
    assert [t.model for t in elsewhere.targets] == [  # type: ignore[attr-defined]
        "auto", "gemma4-smart", "gemma4-lite",
    ]  # fmt: skip


def test_local_engines_skips_external_servers_and_other_routers(tmp_path: Path) -> None:
    state = StackState(1, "http://0.0.0.0:9000", [
        PartState("tier_low", "http://127.0.0.1:8081/v1", 2),
        PartState("tier_high", "http://gpu:8000/v1", None),  # not started by the stack
    ])  # fmt: skip
    RunDir(tmp_path).write(state)
    assert local_engines("http://localhost:9000/v1", tmp_path) == (None, "http://127.0.0.1:8081/v1")
    assert local_engines("http://127.0.0.1:9001/v1", tmp_path) == (None, None)
    assert local_engines("http://127.0.0.1:9000/v1", tmp_path / "none") == (None, None)


def test_help_explains_the_defaults() -> None:
    code, out = run("--help")
    assert code == 0
    for text in ("--workload [sharegpt|synthetic|mixed]", "[default: sharegpt]",
                 "bundled with Stratum", "STRATUM_BENCH_DATA_DIR", "[default: 1,10,50]",
                 "Default: on for synthetic, else off.", "[bench] in --config"):  # fmt: skip
        assert text in " ".join(out.split()), text


@pytest.fixture
def engine_url() -> Iterator[str]:
    """A fake engine in a process of its own (the command runs its own event loop)."""
    port = free_port()
    args = [sys.executable, "-m", "adaptive_router.bench.fake_engine", "--port", str(port),
            "--chunks", "2", "--gap-ms", "1"]  # fmt: skip
    engine = subprocess.Popen(args)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline or engine.poll() is not None:
                    raise
                time.sleep(0.05)
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        engine.terminate()
        engine.wait(10)


@pytest.mark.parametrize("workload", ["sharegpt", "mixed"])
def test_default_data_is_bundled_with_the_package(
    engine_url: str, workload: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No ../shared: the prompts come from the installed package, wherever it runs."""
    monkeypatch.chdir(tmp_path)
    args = ["--target", f"fake={engine_url}", "--workload", workload, "--concurrency", "2",
            "--requests", "4", "--warmup", "0", "--no-charts", "--no-progress",
            "--out", "out"]  # fmt: skip
    code, out = run(*args)
    assert code == 0, out
    data = json.loads((tmp_path / "out" / "results.json").read_text())
    assert data["config"]["data_dir"] is None
    records = data["records"]
    assert len(records) == 4
    assert all(r["error"] is None for r in records), records
    assert all(r["prompt_id"].startswith(("sharegpt:", "math:")) for r in records)


def test_settings_file_bench_table(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "stratum.toml"
    path.write_text('[bench]\ntarget = ["a=http://a:1/v1"]\nworkload = "synthetic"\n'
                    "requests = 7\nhard_share = 0.5\n")  # fmt: skip
    config = config_for("--config", str(path), "--requests", "9")
    assert [t.name for t in config.targets] == ["a"]  # type: ignore[attr-defined]
    assert config.workload == "synthetic"  # type: ignore[attr-defined]
    assert config.requests == 9  # type: ignore[attr-defined]  # the flag wins over the file
    monkeypatch.setenv("STRATUM_BENCH_HARD_SHARE", "0.2")
    assert config_for("--config", str(path)).hard_share == 0.2  # type: ignore[attr-defined]
    monkeypatch.setenv("STRATUM_BENCH_HARD_SHARE", "2")
    code, out = run("--config", str(path))
    assert code == 2
    assert "hard_share must be a number from 0 to 1, got 2.0" in out


def test_preset_values_lose_to_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STRATUM_BENCH_WORKLOAD", "sharegpt")
    config = config_for("--preset", "routing-question", "--router-url", "http://r:1/v1")
    assert config.workload == "sharegpt"  # type: ignore[attr-defined]
    assert config.concurrencies == (8,)  # type: ignore[attr-defined]  # the preset's
