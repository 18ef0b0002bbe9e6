"""One short real run: `python -m adaptive_router.bench` against `stratum up`.

Routed (model auto) and direct tier_low, concurrency 1 and 2, a few short answers each;
checks that results.json, results.md and both charts exist and hold sane values.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.stack.conftest import RunningStack


def test_bench_runs_end_to_end(stack: RunningStack, tmp_path: Path) -> None:
    low_url = next(p.url for p in stack.state().parts if p.name == "tier_low")
    out = tmp_path / "out"
    args = [
        sys.executable, "-m", "adaptive_router.bench",
        "--target", f"routed={stack.url}/v1@auto", "--target", f"low={low_url}",
        "--workload", "mixed", "--hard-share", "0.5", "--concurrency", "1,2",
        "--requests", "3", "--warmup", "1", "--output-tokens", "8", "--ignore-eos",
        "--out", str(out), "--no-progress",
    ]  # fmt: skip
    done = subprocess.run(args, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "| routed | `auto` | c=2 |" in done.stdout

    data = json.loads((out / "results.json").read_text())
    assert len(data["aggregates"]) == 4
    for agg in data["aggregates"]:
        assert (agg["requests"], agg["errors"]) == (3, 0), agg
        assert 0 < agg["ttft"]["p50"] <= agg["ttft"]["p99"] < 60
        assert agg["output_tokens_per_s"] > 0
    measured = [r for r in data["records"] if not r["warmup"]]
    assert len(measured) == 12
    assert all(r["output_tokens"] == 8 and r["token_source"] == "usage" for r in measured)
    routed = [r for r in measured if r["target"] == "routed"]
    assert all(r["tier"] in ("tier_low", "tier_high") for r in routed)
    assert all(r["tier"] is None for r in measured if r["target"] == "low")

    markdown = (out / "results.md").read_text()
    assert "llmperf's definition" in markdown
    for chart in ("ttft_vs_load.png", "routed_vs_baselines.png"):
        assert (out / chart).read_bytes()[:4] == b"\x89PNG"
