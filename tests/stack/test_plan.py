"""``stratum up --dry-run``: the stack's commands as a shell script; nothing started or written."""

from __future__ import annotations

import shlex
import subprocess
import sys
from pathlib import Path

from adaptive_router.stack.plan import render
from adaptive_router.stack.process import Launch

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "deploy" / "stacks" / "gemma4-16gb.toml"
STRATUM = str(Path(sys.executable).with_name("stratum"))


def dry_run(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    run_dir = tmp_path / "run"
    return subprocess.run(
        [STRATUM, "up", "--dry-run", "--run-dir",
         str(run_dir), *args],
        capture_output=True, text=True, timeout=60, cwd=tmp_path,
    )  # fmt: skip


def commands(script: str) -> list[list[str]]:
    """The script's commands (continuation lines joined), each split as the shell would."""
    joined = script.replace(" \\\n", " ")
    lines = [line for line in joined.splitlines() if line and not line.startswith("#")]
    return [shlex.split(line.removesuffix(" &")) for line in lines if line != "wait"]


def test_dry_run_prints_the_default_stack_and_starts_nothing(tmp_path: Path) -> None:
    done = dry_run(tmp_path)
    assert done.returncode == 0, done.stderr
    assert not (tmp_path / "run").exists()  # no run directory, so no lock and no logs
    ran = commands(done.stdout)
    engines = [c for c in ran if Path(c[0]).name == "llama-server"]
    assert [c[c.index("--port") + 1] for c in engines] == ["8081", "8082"]
    router = next(c for c in ran if c[:2] == ["stratum", "serve"])
    assert router[router.index("--tier-low-url") + 1] == "http://127.0.0.1:8081/v1"
    syntax = subprocess.run(["sh", "-n"], input=done.stdout, capture_output=True, text=True)
    assert syntax.returncode == 0, syntax.stderr


def test_dry_run_of_the_16gb_example_shows_vllm_with_its_gpu(tmp_path: Path) -> None:
    done = dry_run(tmp_path, "--config", str(EXAMPLE))
    assert done.returncode == 0, done.stderr
    vllm = next(c for c in commands(done.stdout) if "vllm" in c)
    assert vllm[0] == "CUDA_VISIBLE_DEVICES=0"
    assert vllm[1:4] == ["vllm", "serve", "google/gemma-4-E4B-it"]
    llama = next(c for c in commands(done.stdout) if Path(c[1]).name == "llama-server")
    assert llama[llama.index("--port") + 1] == "8080"
    assert "--cpu-moe" in llama


def test_up_without_the_engine_installed_says_what_is_missing(tmp_path: Path) -> None:
    done = subprocess.run(
        [STRATUM, "up", "--run-dir", str(tmp_path / "run"),
         "--engine-low-engine", "vllm", "--engine-low-model", "google/gemma-4-E4B-it",
         "--engine-low-command", "/nonexistent/vllm serve"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 1
    assert "'/nonexistent/vllm' is not on PATH here" in done.stderr
    assert "--dry-run prints the commands" in done.stderr
    assert "Traceback" not in done.stderr


def test_files_are_written_as_heredocs_before_their_command() -> None:
    launch = Launch("svc", ("svc", "--config", "/x/c.yml"), files=((Path("/x/c.yml"), "a: 1\n"),))
    script = render([launch])
    assert "cat > /x/c.yml <<'STRATUM_EOF'\na: 1\nSTRATUM_EOF\nsvc --config /x/c.yml &" in script


def test_long_commands_wrap_before_options_only() -> None:
    argv = ("engine", *(f"--option-{i} value-{i}".split()[j] for i in range(12) for j in (0, 1)))
    script = render([Launch("e", argv, env=(("CUDA_VISIBLE_DEVICES", "0,1"),))])
    body = [line for line in script.splitlines() if not line.startswith("#") and line][1:-1]
    assert all(len(line) <= 100 for line in body)
    assert all(line.startswith("    --") for line in body[1:])
    assert commands(script)[0][:2] == ["CUDA_VISIBLE_DEVICES=0,1", "engine"]
