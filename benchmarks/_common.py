"""Small helpers the benchmark scripts share: run order, medians, table cells, environment."""

from __future__ import annotations

import os
import platform
from collections.abc import Iterable, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any, TypeVar

from adaptive_router.bench.stats import percentile

T = TypeVar("T")

# the judged model pairs of arena_bench_v1 the scorer scripts read
WEAK, STRONG = "Mistral-7B-Instruct-v0.1", "gpt-4-turbo"
OTHER_PAIRS = [
    ("Llama-2-70b-chat", "gpt-4-0314"),
    ("Mixtral-8x7B-Instruct-v0.1", "gpt-4-turbo"),
    ("gpt-3.5-turbo-1106", "gpt-4-turbo"),
    ("Mistral-7B-Instruct-v0.1", "gpt-4-0314"),
]


def abba(items: Sequence[T], rounds: int) -> list[tuple[int, T]]:
    """(round, item) forwards, then backwards, ... so that drift hits every item alike."""
    out: list[tuple[int, T]] = []
    for r in range(rounds):
        out += [(r, item) for item in (items if r % 2 == 0 else items[::-1])]
    return out


def median(values: Iterable[float | int | None]) -> float | None:
    """The median of the values present; None when there are none."""
    present = [float(v) for v in values if v is not None]
    return percentile(present, 50) if present else None


def fmt(value: float | None, spec: str = ".0f") -> str:
    """A table cell: ``value`` formatted, or "n/r" (not reported) for None."""
    return "n/r" if value is None else format(value, spec)


def environment(options: Any) -> dict[str, Any]:
    """The machine and the options of a run (a dataclass), for the raw JSON."""
    return {
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "load_average": os.getloadavg(),
        "options": {k: str(v) if isinstance(v, Path) else v for k, v in asdict(options).items()},
    }
