"""JSON, Markdown, charts and the routing answer, from a made-up result."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from adaptive_router.bench.config import BenchConfig, Target
from adaptive_router.bench.question import QUALITY_CAVEAT, answer, preset_targets
from adaptive_router.bench.report import markdown, to_json, write_outputs
from adaptive_router.bench.runner import BenchResult
from adaptive_router.bench.stats import aggregate
from tests.bench.conftest import record

URL = "http://127.0.0.1:9000/v1"


def result(tmp_path: Path, label: str = "") -> BenchResult:
    targets = tuple(
        Target(name, URL, model)
        for name, model in (("routed", "auto"), ("all-high", "gemma4-smart"), ("all-low", "x"))
    )
    config = BenchConfig(
        targets, workload="mixed", concurrencies=(1, 8), requests=4, out=tmp_path, label=label
    )
    ttft = {"routed": 1.0, "all-high": 4.0, "all-low": 0.5}
    tiers = {"routed": ["tier_high", "tier_low", "tier_low", "tier_low"], "all-high":
             ["tier_high"] * 4, "all-low": ["tier_low"] * 4}  # fmt: skip
    records, aggregates = [], []
    for level in (1.0, 8.0):
        for t in targets:
            rows = [
                record(ttft=ttft[t.name] * level * (1 + i / 10), e2e=10.0, tier=tier, target=t.name)
                for i, tier in enumerate(tiers[t.name])
            ]
            records += rows
            aggregates.append(aggregate(t.name, level, rows, wall_s=5.0))
    return BenchResult(config, aggregates, records, "2026-01-01T00:00:00+00:00", 30.0)


def test_answer_sentence_has_the_numbers(tmp_path: Path) -> None:
    rows = [a for a in result(tmp_path).aggregates if a.level == 8.0]
    text = answer(rows, "c=8", 0.3)
    assert text is not None
    assert text.startswith("At c=8 on the mixed workload (30% hard prompts), routing cut TTFT")
    assert "p50 36.80 s -> 9.20 s (-75%)" in text
    assert "routed sent 25% of requests to tier_high" in text
    assert "all-to-tier_low: p50 4.60 s" in text
    assert text.endswith(QUALITY_CAVEAT)
    assert answer([a for a in rows if a.target != "all-high"], "c=8", 0.3) is None


def test_answer_calls_a_small_change_noise(tmp_path: Path) -> None:
    rows = result(tmp_path).aggregates
    routed = next(a for a in rows if a.target == "routed" and a.level == 1.0)
    close = replace(routed, target="all-high",
                    ttft=replace(routed.ttft, p50=routed.ttft.p50 * 1.05))  # fmt: skip
    text = answer([routed, close], "c=1", 0.3)
    assert text is not None
    assert "routing about matched TTFT versus all-to-tier_high" in text
    slower = replace(close, ttft=replace(routed.ttft, p50=routed.ttft.p50 * 0.5))
    assert "routing did not cut TTFT" in (answer([routed, slower], "c=1", 0.3) or "")


def test_markdown_table(tmp_path: Path) -> None:
    text = markdown(result(tmp_path))
    header = next(line for line in text.splitlines() if line.startswith("| target"))
    rows = [line for line in text.splitlines() if line.startswith("| routed")]
    assert len(rows) == 2
    assert header.count("|") == rows[0].count("|")
    assert "| routed | `auto` | c=8 | 4 | 0 | 9200 |" in rows[1]
    assert "tier_high 25%, tier_low 75%" in rows[1]
    assert "llmperf's definition" in text
    assert text.count("**Answer.**") == 2
    assert "a unique tag opening every prompt" in text


def test_label_names_the_machine_in_the_heading(tmp_path: Path) -> None:
    plain = markdown(result(tmp_path)).splitlines()[0]
    assert plain == "# stratum bench: mixed workload"
    labelled = markdown(result(tmp_path, label="2 CPU cores, llama-server")).splitlines()[0]
    assert labelled == "# stratum bench: mixed workload (2 CPU cores, llama-server)"


def test_json_holds_config_aggregates_and_raw_records(tmp_path: Path) -> None:
    data = json.loads(to_json(result(tmp_path)))
    assert data["config"]["workload"] == "mixed"
    assert "api_key" not in data["config"]
    assert len(data["aggregates"]) == 6
    assert len(data["records"]) == 24
    assert data["records"][0]["tpot_s"] == pytest.approx((10.0 - 1.0) / 9)
    assert "llmperf" in data["ttft_definition"]
    assert len(data["answers"]) == 2


def test_write_outputs_with_charts(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    written = write_outputs(result(tmp_path), tmp_path / "out")
    names = sorted(p.name for p in written)
    assert names == [
        "results.json", "results.md", "routed_vs_baselines.png", "ttft_vs_load.png",
    ]  # fmt: skip
    for path in written:
        assert path.stat().st_size > 100
    assert (tmp_path / "out" / "ttft_vs_load.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_preset_targets() -> None:
    assert preset_targets(URL) == [
        f"routed={URL}@auto", f"all-high={URL}@gemma4-smart", f"all-low={URL}@gemma4-lite",
    ]  # fmt: skip
    direct = preset_targets(URL, "http://h:2/v1", "http://l:1/v1")
    assert direct[1:] == ["all-high=http://h:2/v1", "all-low=http://l:1/v1"]


def test_change_formatting() -> None:
    from adaptive_router.bench.question import _change

    assert _change("p99", 0.061, 0.0609) == "p99 61 ms -> 61 ms (±0%)"
    assert _change("p50", 2.0, 3.0) == "p50 2.00 s -> 3.00 s (+50%)"
    assert _change("p50", float("nan"), 1.0) == "p50 n/a -> 1.00 s"


def test_load_chart_turns_logarithmic_when_ttft_spans_decades() -> None:
    from adaptive_router.bench.charts import _spans_decades

    assert _spans_decades([[250.0, 6000.0], [260.0, 30000.0]])
    assert not _spans_decades([[230.0, 3500.0], [240.0, 2000.0]])
    assert not _spans_decades([[float("nan")], []])
