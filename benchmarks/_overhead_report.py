"""proxy_overhead.py's figures: one target at one level (Cell), its table row, what each
proxy adds over ``direct``, DESIGN.md's targets and the raw JSON."""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from adaptive_router.bench.stats import percentile

TTFT_DEFINITION = (
    "TTFT = time from sending the request to receiving the first SSE event whose "
    "choices[].delta.content is non-empty"
)


@dataclass
class Cell:
    """One target at one concurrency level: the raw figures."""

    ttft_s: list[float] = field(default_factory=list)
    e2e_s: list[float] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)
    wall_s: float = 0.0
    cpu_s: float | None = None
    client_cpu_s: float = 0.0
    rss_start_mb: float | None = None
    rss_peak_mb: float | None = None

    @property
    def ok(self) -> int:
        return len(self.e2e_s)

    @property
    def rps(self) -> float:
        return self.ok / self.wall_s if self.wall_s else 0.0


COLUMNS = (
    "target | c | requests | TTFT p50 ms | TTFT p99 ms | E2E p50 ms | req/s | errors"
    " | peak RSS MB | CPU ms/req"
)


def print_table_head() -> None:
    print("| " + COLUMNS + " |")
    print("|" + " --- |" * len(COLUMNS.split("|")))


def table_row(name: str, c: int, cell: Cell) -> str:
    errors = sum(cell.errors.values())
    error_text = f"{errors} ({', '.join(f'{k}: {v}' for k, v in cell.errors.items())})"
    cpu = f"{1e3 * cell.cpu_s / cell.ok:.2f}" if cell.cpu_s is not None and cell.ok else "-"
    rss = f"{cell.rss_peak_mb:.0f}" if cell.rss_peak_mb else "-"
    cells = [
        name,
        str(c),
        str(cell.ok + errors),
        f"{1e3 * percentile(cell.ttft_s, 50):.2f}",
        f"{1e3 * percentile(cell.ttft_s, 99):.2f}",
        f"{1e3 * percentile(cell.e2e_s, 50):.1f}",
        f"{cell.rps:.0f}",
        error_text if errors else "0",
        rss,
        cpu,
    ]
    return "| " + " | ".join(cells) + " |"


@dataclass(frozen=True)
class Overhead:
    """What one proxy adds over direct at the three levels DESIGN.md sets targets for."""

    ttft_p50_c1_ms: float | None
    ttft_p99_c200_ms: float | None
    rps_c32_pct: float | None
    errors: int


def overhead(results: dict[str, dict[int, Cell]], name: str) -> Overhead:
    mine, direct = results[name], results["direct"]

    def added(c: int, q: float) -> float | None:
        if c not in mine or c not in direct:
            return None
        return 1e3 * (percentile(mine[c].ttft_s, q) - percentile(direct[c].ttft_s, q))

    rps = None
    if 32 in mine and 32 in direct and direct[32].rps:
        rps = 100 * mine[32].rps / direct[32].rps
    errors = sum(sum(cell.errors.values()) for cell in mine.values())
    return Overhead(added(1, 50), added(200, 99), rps, errors)


def shown(value: float | None, unit: str) -> str:
    return "n/a (level not run)" if value is None else f"{value:+.2f} {unit}"


def print_derived(results: dict[str, dict[int, Cell]]) -> dict[str, Overhead]:
    print("\nAdded by each proxy (proxy minus direct, same run):")
    figures = {name: overhead(results, name) for name in results if name != "direct"}
    for name, o in figures.items():
        rps = "n/a (level not run)" if o.rps_c32_pct is None else f"{o.rps_c32_pct:.0f}%"
        print(
            f"- {name}: TTFT p50 at c=1 {shown(o.ttft_p50_c1_ms, 'ms')}; TTFT p99 at c=200 "
            f"{shown(o.ttft_p99_c200_ms, 'ms')}; throughput at c=32 {rps} of direct; "
            f"errors {o.errors}"
        )
    if "stratum" in figures and "litellm" in figures:
        print_ratio(figures["stratum"], figures["litellm"])
    if "stratum" in figures:
        print_targets(figures["stratum"], results["stratum"])
    return figures


def print_ratio(stratum: Overhead, litellm: Overhead) -> None:
    pairs = [
        ("TTFT p50 at c=1", stratum.ttft_p50_c1_ms, litellm.ttft_p50_c1_ms),
        ("TTFT p99 at c=200", stratum.ttft_p99_c200_ms, litellm.ttft_p99_c200_ms),
    ]
    for label, ours, theirs in pairs:
        if ours is None or theirs is None:
            continue
        ratio = f"{theirs / ours:.1f}x" if ours > 0 else "n/a (Stratum adds nothing measurable)"
        print(f"- LiteLLM's added {label} / Stratum's: {ratio}")


def print_targets(o: Overhead, cells: dict[int, Cell]) -> None:
    """DESIGN.md's targets for Stratum, each PASS or FAIL (or n/a when its level was not run)."""
    print("\nStratum against DESIGN.md's targets:")
    checks: list[tuple[str, float | None, Callable[[float], bool]]] = [
        ("added TTFT p50 at c=1 <= 1 ms", o.ttft_p50_c1_ms, lambda v: v <= 1.0),
        ("added TTFT p99 at c=200 <= 10 ms", o.ttft_p99_c200_ms, lambda v: v <= 10.0),
        ("throughput at c=32 >= 75% of direct", o.rps_c32_pct, lambda v: v >= 75.0),
        ("zero errors", float(o.errors), lambda v: v == 0),
    ]
    for label, value, ok in checks:
        verdict = "n/a" if value is None else ("PASS" if ok(value) else "FAIL")
        print(f"- {verdict}: {label}")
    starts = [cell.rss_start_mb for cell in cells.values() if cell.rss_start_mb]
    peaks = [cell.rss_peak_mb for cell in cells.values() if cell.rss_peak_mb]
    if starts and peaks:
        print(f"- memory: RSS {starts[0]:.0f} MB before the first level, {max(peaks):.0f} MB peak")


def write_json(
    path: Path,
    options: dict[str, Any],
    results: dict[str, dict[int, Cell]],
    added: dict[str, Overhead],
) -> None:
    def cell_json(cell: Cell) -> dict[str, Any]:
        return {
            "ttft_ms": [round(1e3 * v, 4) for v in cell.ttft_s],
            "e2e_ms": [round(1e3 * v, 4) for v in cell.e2e_s],
            "errors": dict(cell.errors),
            "wall_s": cell.wall_s,
            "rps": cell.rps,
            "cpu_s": cell.cpu_s,
            "load_generator_cpu_s": cell.client_cpu_s,
            "rss_start_mb": cell.rss_start_mb,
            "rss_peak_mb": cell.rss_peak_mb,
        }

    document = {
        "options": {k: str(v) if isinstance(v, Path) else v for k, v in options.items()},
        "cpu_count": os.cpu_count(),
        "ttft_definition": TTFT_DEFINITION,
        "added_vs_direct": {name: vars(o) for name, o in added.items()},
        "results": {n: {str(c): cell_json(x) for c, x in by.items()} for n, by in results.items()},
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(orjson.dumps(document, option=orjson.OPT_INDENT_2))
    print(f"\nraw figures: {path}")
