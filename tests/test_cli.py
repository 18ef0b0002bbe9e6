import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from adaptive_router.cli import main

NO_GPU = {"STRATUM_VRAM_POLL_INTERVAL_MS": "0"}


def run(*args: str, env: dict[str, str] | None = None, stdin: str | None = None) -> object:
    return CliRunner().invoke(main, list(args), env={**NO_GPU, **(env or {})}, input=stdin)


def test_route_prints_tier_rule_and_score() -> None:
    result = run("route", "Prove the Riemann hypothesis step by step")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == "tier_high"
    assert "rule:" in lines[1]
    assert "math" in lines[2]


def test_route_quiet_json_and_stdin() -> None:
    quiet = run("route", "-q", "What time is it in Tokyo?")
    assert quiet.output == "tier_low\n"
    as_json = run("route", "--json", "What time is it in Tokyo?")
    decision = json.loads(as_json.output)
    assert decision["tier"] == "tier_low"
    assert decision["rule"] == "complexity"
    assert decision["signals"]["vram_available"] is False
    piped = run("route", "-q", "-", stdin="What time is it in Tokyo?")
    assert piped.output == "tier_low\n"


def test_route_flags_and_env_change_the_decision() -> None:
    assert run("route", "-q", "--complexity-threshold", "0", "hi").output == "tier_high\n"
    env = {"STRATUM_COMPLEXITY_THRESHOLD": "0"}
    assert run("route", "-q", "hi", env=env).output == "tier_high\n"
    assert run("route", "-q", "--tier", "high", "hi").output == "tier_high\n"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--complexity-threshold", "3"], "complexity_threshold must be a number from 0 to 1"),
        (["--complexity-threshold", "abc"], "is not a valid float"),
        (["--tier", "mid"], "unknown tier 'mid'"),
        (["--config", "nope.toml"], "cannot read config file"),
    ],
)
def test_route_bad_input_is_a_usage_error(args: list[str], message: str) -> None:
    result = run("route", *args, "hi")
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output


def test_config_shows_effective_values(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text("routing:\n  latency_sla_ms: 750\n")
    result = run("config", "--config", str(path), "--gpu-indices", "0,1")
    assert result.exit_code == 0, result.output
    assert "latency_sla_ms = 750.0" in result.output
    assert "gpu_indices = 0,1" in result.output


def write_judged(path: Path, rows: list[tuple[str, float, float]]) -> Path:
    with path.open("w") as f:
        for prompt, weak, strong in rows:
            scores = {"weak-model": weak, "strong-model": strong}
            f.write(json.dumps({"prompt": prompt, "judge_scores": scores}) + "\n")
    return path


def test_eval_prints_apgr_curve_and_calibrated_threshold(tmp_path: Path) -> None:
    rows = [
        ("Prove that there are infinitely many primes, step by step.", 2, 9),
        ("Write a Python function that parses CSV with quoted fields; explain edge cases.", 3, 9),
        ("hi", 8, 8),
        ("Tell me a joke", 7, 8),
        ("What is the capital of France?", 9, 9),
        ("thanks!", 9, 9),
    ]
    path = write_judged(tmp_path / "judged.jsonl", rows)
    result = run(
        "eval", str(path), "--weak", "weak-model", "--strong", "strong-model",
        "--target-high-share", "0.5",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "prompts:  6" in result.output
    apgr = float(result.output.split("APGR:")[1].split()[0])
    assert apgr > 0.7  # the two hard prompts are the only gains, and score highest
    assert "PGR at 10% sent to tier_high" in result.output
    assert "complexity_threshold for 50% to tier_high" in result.output


def test_eval_bad_file_names_the_line(tmp_path: Path) -> None:
    path = write_judged(tmp_path / "judged.jsonl", [("a", 1, 2)])
    with path.open("a") as f:
        f.write("{not json\n")
    result = run("eval", str(path), "--weak", "weak-model", "--strong", "strong-model")
    assert result.exit_code == 1
    assert f"{path}:2" in result.output
    unknown = run("eval", str(path), "--weak", "nobody", "--strong", "strong-model")
    assert "nobody" in unknown.output
    assert "Traceback" not in unknown.output + result.output


def test_console_script_and_help_work_as_installed() -> None:
    exe = Path(sys.executable).with_name("stratum")
    out = subprocess.run(
        [str(exe), "route", "-q", "What time is it in Tokyo?"],
        capture_output=True, text=True, check=True, env={**NO_GPU, "PATH": ""},
    )  # fmt: skip
    assert out.stdout == "tier_low\n"
    helped = subprocess.run([str(exe), "--help"], capture_output=True, text=True, check=True)
    for command in ("route", "eval", "config", "serve", "up", "status", "down", "bench"):
        assert command in helped.stdout


def test_cli_import_leaves_the_proxy_and_bench_unloaded() -> None:
    """`stratum route` stays quick: aiohttp, the proxy app and the bench load only when used."""
    code = (
        "import sys, adaptive_router.cli;"
        "print(sorted(m for m in sys.modules if m == 'aiohttp' or m.startswith("
        "('adaptive_router.proxy.app', 'adaptive_router.bench'))))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
