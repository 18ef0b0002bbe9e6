"""What a run writes to ``--out``: results.json, results.md and the charts.

- ``results.json``: the config, the TTFT definition, one aggregate per target x level and
  every raw request record (warm-up ones flagged), plus the routing answer when there is one.
- ``results.md``: a Markdown table ready for the docs (times in ms, E2E in s).
- ``ttft_vs_load.png`` and ``routed_vs_baselines.png``: see :mod:`.charts`.
"""

from __future__ import annotations

import math
from dataclasses import asdict
from pathlib import Path
from typing import Any

import orjson

from adaptive_router.bench.config import BenchConfig
from adaptive_router.bench.question import answer
from adaptive_router.bench.records import TTFT_DEFINITION
from adaptive_router.bench.runner import BenchResult, level_label
from adaptive_router.bench.stats import Aggregate
from adaptive_router.errors import StratumError

COLUMNS = (
    "target", "model", "load", "requests", "errors",
    "TTFT p50", "TTFT p95", "TTFT p99", "TPOT p50", "TPOT p99", "ITL p50", "ITL p99",
    "E2E p50 (s)", "E2E p99 (s)", "out tok/s", "req/s", "tiers",
)  # fmt: skip
INCOMPLETE = "**Incomplete:** the run stopped early; the rows below are the levels it finished."


def answers(result: BenchResult) -> list[str]:
    """The routing answer sentence of each level (none without routed/all-high targets)."""
    config = result.config
    found = []
    for level in config.levels:
        rows = [a for a in result.aggregates if a.level == level]
        text = answer(rows, level_label(level, config.open_loop), config.hard_share)
        if text is not None:
            found.append(text)
    return found


def config_dict(config: BenchConfig) -> dict[str, Any]:
    """The config as plain data, the API key left out."""
    data = asdict(config)
    data.pop("api_key", None)
    data["data_dir"] = str(config.data_dir) if config.data_dir else None
    data["out"] = str(config.out)
    data["mode"] = "open loop (Poisson)" if config.open_loop else "closed loop"
    return data


def to_json(result: BenchResult) -> bytes:
    """The whole result, raw records included."""
    document = {
        "tool": "stratum bench",
        "started_at": result.started_at,
        "duration_s": result.duration_s,
        "complete": result.complete,
        "ttft_definition": TTFT_DEFINITION,
        "config": config_dict(result.config),
        "answers": answers(result),
        "aggregates": [a.to_dict() for a in result.aggregates],
        "records": [r.to_dict() for r in result.records],
    }
    return orjson.dumps(document, option=orjson.OPT_INDENT_2)


def markdown(result: BenchResult, with_answers: bool = True) -> str:
    """The aggregates as a Markdown table, with what was run and how TTFT is defined."""
    config = result.config
    models = {t.name: t.model for t in config.targets}
    where = f" ({config.label})" if config.label else ""
    lines = [
        f"# stratum bench: {config.workload} workload{where}",
        "",
        _describe(config),
        "",
        *([] if result.complete else [INCOMPLETE, ""]),
        "| " + " | ".join(COLUMNS) + " |",
        "|" + "|".join(["---"] * 3 + ["--:"] * (len(COLUMNS) - 4) + ["---"]) + "|",
    ]
    for agg in result.aggregates:
        load = level_label(agg.level, config.open_loop)
        lines.append("| " + " | ".join(_row(agg, models[agg.target], load)) + " |")
    lines += ["", "Targets:", ""]
    lines += [f"- `{t.name}`: {t.url} (model `{t.model}`)" for t in config.targets]
    for text in answers(result) if with_answers else []:
        lines += ["", f"**Answer.** {text}"]
    return "\n".join(lines) + "\n"


def _describe(config: BenchConfig) -> str:
    load = "Open-loop Poisson arrivals" if config.open_loop else "Closed-loop users"
    bound = " and ".join(
        b
        for b in (
            f"{config.requests} requests" if config.requests is not None else "",
            f"{config.duration_s:g} s" if config.duration_s is not None else "",
        )
        if b
    )
    eos = ", ignore_eos" if config.ignore_eos else ""
    tagged = ", a unique tag opening every prompt" if config.unique_prefix else ""
    mix = f", {config.hard_share:.0%} hard" if config.workload == "mixed" else ""
    return (
        f"{load}, at most {bound} per level after {config.warmup} warm-up "
        f"request(s); {config.workload}{mix}, max_tokens {config.output_tokens}{eos}{tagged}, "
        f"/v1/{'chat/completions' if config.api == 'chat' else 'completions'}, seed "
        f"{config.seed}. {TTFT_DEFINITION}. TTFT, TPOT and ITL in ms; E2E in s; errors "
        "are not in the percentiles."
    )


def _row(agg: Aggregate, model: str, load: str) -> list[str]:
    tiers = ", ".join(f"{t} {s:.0%}" for t, s in agg.tier_share.items()) or "-"
    if agg.failovers:
        tiers += f" ({agg.failovers} failover{'s' if agg.failovers > 1 else ''})"
    return [
        agg.target, f"`{model}`", load, str(agg.requests), str(agg.errors),
        _ms(agg.ttft.p50), _ms(agg.ttft.p95), _ms(agg.ttft.p99),
        _ms(agg.tpot.p50), _ms(agg.tpot.p99), _ms(agg.itl.p50), _ms(agg.itl.p99),
        _num(agg.e2e.p50, 2), _num(agg.e2e.p99, 2),
        _num(agg.output_tokens_per_s, 1), _num(agg.requests_per_s, 2), tiers,
    ]  # fmt: skip


def _ms(seconds: float) -> str:
    return "-" if math.isnan(seconds) else f"{seconds * 1000:.0f}"


def _num(value: float, digits: int) -> str:
    return "-" if math.isnan(value) else f"{value:.{digits}f}"


def write_outputs(result: BenchResult, out: Path, charts: bool = True) -> list[Path]:
    """Write JSON, Markdown and (when matplotlib is there) the charts; the paths written."""
    try:
        out.mkdir(parents=True, exist_ok=True)
        written = [out / "results.json", out / "results.md"]
        written[0].write_bytes(to_json(result))
        written[1].write_text(markdown(result))
    except OSError as exc:
        raise StratumError(f"cannot write the results to {out}: {exc.strerror or exc}") from None
    if charts:
        from adaptive_router.bench.charts import write_charts

        written += write_charts(result, out)
    return written
