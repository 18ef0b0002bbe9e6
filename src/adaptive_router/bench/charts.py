"""PNG charts of a run, drawn with matplotlib's Agg backend (no display needed).

- ``ttft_vs_load.png``: TTFT p50 and p99 against concurrency (or request rate), one line per
  target.
- ``routed_vs_baselines.png``: TTFT p50 and p99 of every target side by side at each load
  level, with the share each target's answers came from tier_high.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from adaptive_router.bench.config import BenchConfig
from adaptive_router.bench.records import TTFT_DEFINITION
from adaptive_router.bench.runner import BenchResult, level_label
from adaptive_router.bench.stats import Aggregate
from adaptive_router.errors import StratumError
from adaptive_router.tiers import TIER_HIGH

LOAD_CHART = "ttft_vs_load.png"
COMPARE_CHART = "routed_vs_baselines.png"


def _pyplot() -> Any:
    try:
        import matplotlib
    except ImportError:
        raise StratumError(
            "charts need matplotlib: pip install matplotlib (or pass --no-charts)"
        ) from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def write_charts(result: BenchResult, out: Path) -> list[Path]:
    """Draw both charts into ``out``; the paths written."""
    plt = _pyplot()
    paths = [out / LOAD_CHART, out / COMPARE_CHART]
    for path, draw in zip(paths, (_load_chart, _compare_chart), strict=True):
        fig = draw(plt, result)
        try:
            fig.savefig(path, dpi=110)
        finally:
            plt.close(fig)
    return paths


def _series(result: BenchResult, target: str) -> list[Aggregate]:
    return sorted((a for a in result.aggregates if a.target == target), key=lambda a: a.level)


def _load_chart(plt: Any, result: BenchResult) -> Any:
    config = result.config
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2), sharey=True)
    for ax, quantile in zip(axes, ("p50", "p99"), strict=True):
        for target in config.targets:
            rows = _series(result, target.name)
            ys = [getattr(a.ttft, quantile) * 1000 for a in rows]
            ax.plot([a.level for a in rows], ys, marker="o", label=target.name)
        ax.set_title(f"TTFT {quantile}")
        if _spans_decades([line.get_ydata() for line in ax.get_lines()]):
            ax.set_yscale("log")
        ax.set_xlabel("request rate (req/s, Poisson)" if config.open_loop else "concurrency")
        ax.set_xticks(list(config.levels))
        ax.grid(True, alpha=0.3)
    axes[0].set_ylabel("TTFT (ms)")
    axes[0].legend()
    fig.suptitle(
        _titled(f"stratum bench, {config.workload} workload: TTFT vs load", config), fontsize=11
    )
    fig.text(0.5, 0.01, TTFT_DEFINITION, ha="center", fontsize=7)
    fig.tight_layout(rect=(0, 0.04, 1, 1))
    return fig


def _compare_chart(plt: Any, result: BenchResult) -> Any:
    config = result.config
    names = [t.name for t in config.targets]
    width = 0.8 / max(1, len(names))
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    for ax, quantile in zip(axes, ("p50", "p99"), strict=True):
        for i, name in enumerate(names):
            rows = _series(result, name)
            xs = [n + (i - (len(names) - 1) / 2) * width for n in range(len(rows))]
            ys = [_zero_nan(getattr(a.ttft, quantile)) * 1000 for a in rows]
            bars = ax.bar(xs, ys, width, label=name)
            for bar, agg in zip(bars, rows, strict=True):
                if agg.tier_share:
                    share = agg.tier_share.get(TIER_HIGH, 0.0)
                    ax.annotate(f"high {share:.0%}", (bar.get_x() + width / 2, bar.get_height()),
                                ha="center", va="bottom", fontsize=7)  # fmt: skip
        labels = [level_label(level, config.open_loop) for level in config.levels]
        ax.set_xticks(range(len(labels)), labels)
        ax.set_title(f"TTFT {quantile} by target")
        ax.grid(True, axis="y", alpha=0.3)
    axes[0].set_ylabel("TTFT (ms)")
    axes[0].legend()
    title = "routed vs baselines (bar labels: share answered by tier_high)"
    fig.suptitle(_titled(title, config), fontsize=11)
    fig.tight_layout()
    return fig


def _spans_decades(series: list[Any]) -> bool:
    """True when the values span more than 30x: a log scale shows both ends."""
    values = [v for ys in series for v in ys if v > 0 and not math.isnan(v)]
    return bool(values) and max(values) > 30 * min(values)


def _titled(title: str, config: BenchConfig) -> str:
    return f"{title}\n{config.label}" if config.label else title


def _zero_nan(value: float) -> float:
    return 0.0 if math.isnan(value) else value
