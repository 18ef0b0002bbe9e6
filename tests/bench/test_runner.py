"""run_bench against a scripted server: levels in order, checkpoints after each one."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from click.testing import CliRunner

from adaptive_router.bench.cli import bench_command
from adaptive_router.bench.config import BenchConfig, Target
from adaptive_router.bench.fake_engine import DONE, FakeEngine
from adaptive_router.bench.progress import LineProgress
from adaptive_router.bench.runner import BenchResult, run_bench, summary_line
from adaptive_router.bench.stats import aggregate
from tests.bench.conftest import chat_event, record, usage_event

STREAM = [(0.0, chat_event(role="assistant")), (0.0, chat_event(content="hi")),
          (0.0, usage_event(1)), (0.0, DONE)]  # fmt: skip


async def test_checkpoint_after_each_target_and_level(server: FakeEngine) -> None:
    server.script = STREAM
    targets = (Target("a", server.url), Target("b", server.url))
    config = BenchConfig(targets, workload="synthetic", concurrencies=(1, 2), requests=3,
                         warmup=1, input_tokens=8, output_tokens=1)  # fmt: skip
    seen: list[BenchResult] = []
    bar = LineProgress(io.StringIO())
    result = await run_bench(config, bar, checkpoint=seen.append)
    assert [len(r.aggregates) for r in seen] == [1, 2, 3, 4]
    assert [(a.target, a.level) for a in seen[-1].aggregates] == [
        ("a", 1.0), ("b", 1.0), ("a", 2.0), ("b", 2.0),
    ]  # fmt: skip
    assert not any(r.complete for r in seen)
    assert result.complete
    assert len(result.records) == len(seen[-1].records) == 4 * (3 + 1)
    assert all(a.errors == 0 and a.requests == 3 for a in result.aggregates)
    shown = bar.stream.getvalue()  # type: ignore[attr-defined]
    assert shown.count("  done: TTFT p50 ") == 4
    assert "b  c=2  done: TTFT p50 " in shown
    assert "; 0 error(s)" in shown


def test_interrupted_run_keeps_the_finished_levels(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def interrupted(config: BenchConfig, progress: object, checkpoint: object) -> None:
        rows = [record(target="a")]
        partial = BenchResult(config, [aggregate("a", 1.0, rows, 1.0)], rows, "t", 1.0, False)
        checkpoint(partial)  # type: ignore[operator]
        raise KeyboardInterrupt

    monkeypatch.setattr("adaptive_router.bench.runner.run_bench", interrupted)
    out = tmp_path / "out"
    done = CliRunner().invoke(
        bench_command, ["--target", "a=http://127.0.0.1:9/v1", "--out", str(out), "--no-progress"]
    )
    assert done.exit_code == 1
    assert "interrupted: the levels it finished are in" in done.output
    assert "results.json" in done.output
    assert "**Incomplete:**" in (out / "results.md").read_text()
    assert '"complete": false' in (out / "results.json").read_text()


def test_summary_line_of_a_routed_level() -> None:
    rows = [record(ttft=0.25, tier="tier_high"), record(ttft=0.5, tier="tier_low"),
            record(ttft=None, e2e=None, error="timeout")]  # fmt: skip
    line = summary_line(aggregate("routed", 8.0, rows, wall_s=2.0), open_loop=False)
    assert line.startswith("routed  c=8  done: TTFT p50 375 ms, p99 498 ms; ")
    assert line.endswith("; 1 error(s); tier_high 50%")
    failed = summary_line(aggregate("x", 2.0, rows[2:], wall_s=1.0), open_loop=True)
    assert failed.startswith("x  2 req/s  done: no TTFT (every request failed)")
