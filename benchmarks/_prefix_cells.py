"""The measured cells of the prefix-cache sweep, their Markdown tables and their JSON."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from _common import fmt, median
from _engine import EngineStream
from adaptive_router.bench.stats import percentile


@dataclass
class Sample:
    """One streamed request, as the client saw it and as the engine reported it."""

    ttft_s: float
    e2e_s: float
    prompt_tokens: int | None = None
    cached_tokens: int | None = None
    server_prompt_ms: float | None = None
    text: str = ""

    @classmethod
    def of(cls, stream: EngineStream) -> Sample:
        timings = stream.timings
        prompt_ms = float(timings.get("prompt_ms", 0.0)) if "cache_n" in timings else None
        return cls(
            ttft_s=stream.ttft_s or 0.0, e2e_s=stream.e2e_s, prompt_tokens=stream.prompt_tokens,
            cached_tokens=stream.cached_tokens, server_prompt_ms=prompt_ms, text=stream.text,
        )  # fmt: skip


@dataclass
class Cell:
    """A group of measured requests (one overlap level, or one RAG variant and order)."""

    name: str
    samples: list[Sample] = field(default_factory=list)
    counters: dict[str, float] = field(default_factory=dict)  # /metrics deltas

    def ttft_ms(self, q: float = 50) -> float:
        return percentile([s.ttft_s * 1000 for s in self.samples], q)

    def median(self, get: Callable[[Sample], float | int | None]) -> float | None:
        return median(map(get, self.samples))

    def hit_ratio(self) -> float | None:
        pairs = [(s.cached_tokens, s.prompt_tokens) for s in self.samples]
        if not pairs or any(c is None or not p for c, p in pairs):
            return None
        return sum(c or 0 for c, _ in pairs) / sum(p or 0 for _, p in pairs)


def counter_ratio(cell: Cell) -> float | None:
    c = cell.counters
    total = c.get("processed", c.get("queried"))
    if "cached" not in c or not total:
        return None
    # llama.cpp counts processed (uncached) prompt tokens; vLLM counts queried (all) tokens
    return c["cached"] / (total + c["cached"]) if "processed" in c else c["cached"] / total


def sweep_table(cells: list[Cell]) -> str:
    base = cells[0].ttft_ms() if cells else float("nan")
    first = cells[0].name if cells else "-"
    rows = [
        "| overlap | prompt tok | cached tok (p50) | cache-hit ratio | /metrics ratio "
        f"| server prefill p50 | TTFT p50 | TTFT p90 | speed-up vs {first} |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for c in cells:
        rows.append(
            f"| {c.name} | {fmt(c.median(lambda s: s.prompt_tokens))} "
            f"| {fmt(c.median(lambda s: s.cached_tokens))} | {fmt(c.hit_ratio(), '.0%')} "
            f"| {fmt(counter_ratio(c), '.0%')} "
            f"| {fmt(c.median(lambda s: s.server_prompt_ms))} ms "
            f"| {c.ttft_ms():.0f} ms | {c.ttft_ms(90):.0f} ms | {base / c.ttft_ms():.2f}x |"
        )
    return "\n".join(rows)


def rag_table(cells: list[Cell]) -> str:
    rows = [
        "| traffic | order | prompt tok | cached tok (p50) | cache-hit ratio | TTFT p50 "
        "| TTFT p90 | RIGHT speed-up |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    by_name = {c.name: c for c in cells}
    for c in cells:
        variant, order = c.name.split("/")
        wrong = by_name.get(f"{variant}/wrong")
        gain = f"{wrong.ttft_ms() / c.ttft_ms():.2f}x" if order == "right" and wrong else ""
        rows.append(
            f"| {variant} | {order.upper()} | {fmt(c.median(lambda s: s.prompt_tokens))} "
            f"| {fmt(c.median(lambda s: s.cached_tokens))} | {fmt(c.hit_ratio(), '.0%')} "
            f"| {c.ttft_ms():.0f} ms | {c.ttft_ms(90):.0f} ms | {gain} |"
        )
    return "\n".join(rows)


def cell_json(value: object) -> Any:
    """orjson's ``default``: a Cell as its summary and raw samples."""
    if isinstance(value, Cell):
        return {
            "name": value.name,
            "ttft_p50_ms": value.ttft_ms(),
            "cache_hit_ratio": value.hit_ratio(),
            "metrics_deltas": value.counters,
            "samples": [asdict(s) for s in value.samples],
        }
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")
