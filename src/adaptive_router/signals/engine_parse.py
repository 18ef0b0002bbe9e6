"""Reading an engine's own load figures from its ``/metrics`` page and llama.cpp's ``/slots``.

Pure functions, no I/O: :func:`detect_engine` tells llama.cpp, vLLM and SGLang apart by their
metric prefixes, :func:`parse_metrics` turns the Prometheus text into an :class:`EngineLoad`,
:func:`parse_llamacpp_slots` counts busy slots. A figure the page does not carry is ``None``,
never 0, and bad input gives ``None`` / ``"unknown"`` rather than an exception.

The names each engine uses (checked against the engines' own code and docs):

======================  ==================================  ==============================
engine                  running / waiting                   KV-cache usage (0..1)
======================  ==================================  ==============================
llama.cpp ``--metrics`` ``llamacpp:requests_processing``    ``llamacpp:kv_cache_usage_ratio``
                        ``llamacpp:requests_deferred``      (builds before mid-2025 only)
vLLM                    ``vllm:num_requests_running``       ``vllm:kv_cache_usage_perc``, or
                        ``vllm:num_requests_waiting``       the older ``vllm:gpu_cache_usage_perc``
SGLang                  ``sglang:num_running_reqs``         ``sglang:token_usage``
``--enable-metrics``    ``sglang:num_queue_reqs``
======================  ==================================  ==============================

Several label sets are added up (vLLM's ``engine`` = data-parallel rank, SGLang's ``dp_rank``,
several models), except the ranks that share one batch (``tp_rank``, ``pp_rank``,
``moe_ep_rank``, ...): SGLang repeats the same count under each of them, so those are merged
by taking the largest. KV usage is the fullest pool: the first one to run out decides.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Literal

from prometheus_client.metrics_core import Metric
from prometheus_client.parser import text_string_to_metric_families

EngineKind = Literal["llama.cpp", "vllm", "sglang", "unknown"]
"""An engine as detected from its ``/metrics`` page."""
EngineSetting = Literal["auto", "llama.cpp", "vllm", "sglang"]
"""An engine as configured (``engine_kind``): a kind, or ``auto`` to detect it."""

# label -> value pairs of one series, and every series of one metric name
_Labels = frozenset[tuple[str, str]]
_Series = Iterable[tuple[Mapping[str, str], float]]
_Samples = dict[str, list[tuple[Mapping[str, str], float]]]
_Combine = Callable[[_Series], float | None]

# labels that name a shard of one batch, not a separate batch: repeated counts, not new ones
_SHARD_LABELS = frozenset(
    {"tp_rank", "pp_rank", "moe_ep_rank", "attn_tp_rank", "attn_cp_rank", "cp_rank", "pid"}
)
_SKIPPED_SUFFIXES = ("_bucket", "_count", "_sum", "_created", "_gcount", "_gsum")


@dataclass(frozen=True, slots=True)
class _Names:
    prefix: str
    running: tuple[str, ...]
    waiting: tuple[str, ...]
    kv_usage: tuple[str, ...]  # first one present wins


_ENGINES: dict[EngineKind, _Names] = {
    "llama.cpp": _Names(
        "llamacpp:",
        ("llamacpp:requests_processing",),
        ("llamacpp:requests_deferred",),
        ("llamacpp:kv_cache_usage_ratio",),
    ),
    "vllm": _Names(
        "vllm:",
        ("vllm:num_requests_running",),
        ("vllm:num_requests_waiting",),
        ("vllm:kv_cache_usage_perc", "vllm:gpu_cache_usage_perc"),
    ),
    "sglang": _Names(
        "sglang:",
        ("sglang:num_running_reqs",),
        ("sglang:num_queue_reqs",),
        ("sglang:token_usage",),
    ),
}


@dataclass(frozen=True, slots=True)
class EngineLoad:
    """One engine's load as its ``/metrics`` page tells it; ``None`` where the page is silent.

    ``running``: requests being decoded now; ``waiting``: requests queued (llama.cpp calls them
    deferred); ``kv_usage``: the fraction of the KV cache in use, 0..1.

        >>> load = parse_metrics("llamacpp:requests_processing 2\\nllamacpp:requests_deferred 1\\n")
        >>> load.engine, load.running, load.waiting, load.kv_usage, load.in_flight
        ('llama.cpp', 2.0, 1.0, None, 3.0)
    """

    engine: EngineKind
    running: float | None = None
    waiting: float | None = None
    kv_usage: float | None = None

    @property
    def in_flight(self) -> float | None:
        """Running plus waiting, or None unless both are known."""
        if self.running is None or self.waiting is None:
            return None
        return self.running + self.waiting


def detect_engine(metrics_text: str) -> EngineKind:
    """Which engine wrote this ``/metrics`` page, from its metric-name prefixes.

    >>> detect_engine('vllm:num_requests_running{model_name="m"} 3.0')
    'vllm'
    >>> detect_engine("<html>not found</html>")
    'unknown'
    """
    return _detect(_read_samples(metrics_text))


def parse_metrics(text: str, engine: EngineKind | None = None) -> EngineLoad:
    """Read running / waiting / KV usage from a ``/metrics`` page; never raises.

    ``engine`` skips detection (a monitor that was told its engine); ``None`` detects it.

        >>> parse_metrics('sglang:num_running_reqs{model_name="m"} 4.0\\n').running
        4.0
        >>> parse_metrics("garbage !!").engine
        'unknown'
    """
    samples = _read_samples(text)
    kind = engine if engine is not None else _detect(samples)
    names = _ENGINES.get(kind)
    if names is None:
        return EngineLoad("unknown")
    return EngineLoad(
        engine=kind,
        running=_first(samples, names.running, _total),
        waiting=_first(samples, names.waiting, _total),
        kv_usage=_first(samples, names.kv_usage, _fullest),
    )


def parse_llamacpp_slots(slots: object) -> tuple[int, int] | None:
    """``(busy, total)`` from llama-server's ``GET /slots`` JSON, or None if it is not one.

    A slot is busy when ``is_processing`` is true; builds before llama.cpp PR #10162 (Nov 2024)
    had ``state`` instead, non-zero when busy.

        >>> parse_llamacpp_slots([{"is_processing": True}, {"is_processing": False}])
        (1, 2)
        >>> parse_llamacpp_slots({"error": {"code": 501}}) is None
        True
    """
    if not isinstance(slots, list):
        return None
    busy = 0
    for slot in slots:
        state = _slot_busy(slot)
        if state is None:
            return None
        busy += state
    return busy, len(slots)


def _slot_busy(slot: object) -> bool | None:
    if not isinstance(slot, dict):
        return None
    processing = slot.get("is_processing")
    if isinstance(processing, bool):
        return processing
    state = slot.get("state")
    if isinstance(state, int) and not isinstance(state, bool):
        return state != 0
    return None


def _detect(samples: _Samples) -> EngineKind:
    """The engine whose prefix is present; with several, the one whose load gauges are."""
    present = [
        kind
        for kind, names in _ENGINES.items()
        if any(name.startswith(names.prefix) for name in samples)
    ]
    for kind in present:
        if any(name in samples for name in _ENGINES[kind].running):
            return kind
    return present[0] if present else "unknown"


def _first(samples: _Samples, names: Iterable[str], combine: _Combine) -> float | None:
    for name in names:
        value = combine(samples.get(name, ()))
        if value is not None:
            return value
    return None


def _total(series: _Series) -> float | None:
    """Sum over batches; within one batch (same labels but the shard ranks) the largest."""
    batches: dict[_Labels, float] = {}
    for labels, value in series:
        key = frozenset((k, v) for k, v in labels.items() if k not in _SHARD_LABELS)
        batches[key] = max(value, batches.get(key, value))
    return float(sum(batches.values())) if batches else None


def _fullest(series: _Series) -> float | None:
    return max((value for _, value in series), default=None)


def _read_samples(text: str) -> _Samples:
    """Every finite plain sample by name (a trailing ``_total`` dropped); bad lines skipped."""
    text = _unquote(text)
    try:
        families = list(text_string_to_metric_families(text))
    except Exception:  # the parser raises ValueError and others on a bad line: go line by line
        families = [family for line in text.splitlines() for family in _parse_line(line)]
    samples: _Samples = {}
    for family in families:
        for sample in family.samples:
            if sample.name.endswith(_SKIPPED_SUFFIXES) or not _is_number(sample.value):
                continue
            name = sample.name.removesuffix("_total")
            samples.setdefault(name, []).append((sample.labels, float(sample.value)))
    return samples


def _parse_line(line: str) -> list[Metric]:
    if not line.strip() or line.lstrip().startswith("#"):
        return []
    try:
        return list(text_string_to_metric_families(line + "\n"))
    except Exception:  # one unreadable line costs that line only
        return []


def _unquote(text: str) -> str:
    """Some llama.cpp builds (Nov 2025, issue #17384) served /metrics as one JSON string."""
    stripped = text.strip()
    if not stripped.startswith('"'):
        return text
    try:
        decoded = json.loads(stripped)
    except ValueError:
        return text
    return decoded if isinstance(decoded, str) else text


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and math.isfinite(value)
