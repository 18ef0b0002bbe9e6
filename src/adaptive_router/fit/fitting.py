"""Does it fit: an :class:`Estimate` held against a GPU, and the largest context / slot count.

A GPU is what ``--gpu-gb`` says or what NVML reads (free memory, not total: other processes
and a desktop hold some); without either the answer is "unknown", never a made-up number.
llama.cpp needs ``total_bytes`` free. vLLM and SGLang take ``utilization * total`` at start
(vLLM refuses to start when that much is not free) and fill it with weights, activations and
cache blocks; what is left for the cache decides how many sequences run at once.

    >>> gpu = Gpu(16 * GiB, 15 * GiB, "--gpu-gb 15")
    >>> report = fit(shape, FitOptions(ctx=8192), gpu)  # doctest: +SKIP
    >>> report.fits, report.max_ctx  # doctest: +SKIP
    (True, 32768)
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass

from adaptive_router.fit.memory import (
    LLAMA_MAX_SEQ,
    Estimate,
    FitOptions,
    estimate,
    kv_bytes_per_token,
    paged_sequence_kv,
)
from adaptive_router.fit.shape import ModelShape


@dataclass(frozen=True, slots=True)
class Gpu:
    """The memory a check grades against. ``source`` says where the numbers came from."""

    total_bytes: int
    free_bytes: int
    source: str


@dataclass(frozen=True, slots=True)
class PagedCapacity:
    """vLLM / SGLang: the engine's reservation and what it leaves for cache blocks."""

    reserved_bytes: int  # utilization * GPU total
    kv_budget_bytes: int  # reserved - weights - activations - runtime (may be negative)
    kv_bytes_per_token: int  # every caching layer
    kv_token_capacity: int  # tokens the budget holds if every layer kept every token
    concurrent_seqs: int  # sequences of --ctx tokens the budget holds


@dataclass(frozen=True, slots=True)
class FitReport:
    """The whole answer: the estimate, the GPU, the verdict and the limits."""

    shape: ModelShape
    options: FitOptions
    estimate: Estimate
    gpu: Gpu | None
    fits: bool | None  # None: no GPU to grade against
    left_bytes: int | None  # GPU memory left after the stack (free - needed)
    max_ctx: int | None
    max_parallel: int | None
    paged: PagedCapacity | None = None


def fit(shape: ModelShape, options: FitOptions, gpu: Gpu | None) -> FitReport:
    """Grade ``shape`` served as ``options`` against ``gpu`` (None: sizes only)."""
    needed = estimate(shape, options)
    if options.engine == "llama.cpp":
        return _llama_cpp(shape, options, needed, gpu)
    return _paged(shape, options, needed, gpu)


def _llama_cpp(shape: ModelShape, o: FitOptions, needed: Estimate, gpu: Gpu | None) -> FitReport:
    if gpu is None:
        return FitReport(shape, o, needed, None, None, None, None, None)
    budget = gpu.free_bytes

    def fits_ctx(ctx: int) -> bool:
        return estimate(shape, dataclasses.replace(o, ctx=ctx)).total_bytes <= budget

    per_slot = o.slot_tokens

    def fits_parallel(n: int) -> bool:
        ctx = o.ctx if o.kv_unified else per_slot * n
        return estimate(shape, dataclasses.replace(o, ctx=ctx, parallel=n)).total_bytes <= budget

    streams = 1 if o.kv_unified else o.parallel
    max_ctx = _largest(fits_ctx, 256, shape.context_train * streams, step=256)
    max_parallel = _largest(fits_parallel, 1, LLAMA_MAX_SEQ)
    left = budget - needed.total_bytes
    return FitReport(shape, o, needed, gpu, left >= 0, left, max_ctx, max_parallel)


def _paged(shape: ModelShape, o: FitOptions, needed: Estimate, gpu: Gpu | None) -> FitReport:
    if gpu is None:
        return FitReport(shape, o, needed, None, None, None, None, None)
    reserved = int(gpu.total_bytes * o.gpu_memory_utilization)
    budget = reserved - needed.weights_bytes - needed.overhead_bytes
    per_token = kv_bytes_per_token(shape, o.kv_dtype)
    per_seq = paged_sequence_kv(shape, o.kv_dtype, o.ctx).total_bytes
    capacity = PagedCapacity(
        reserved_bytes=reserved,
        kv_budget_bytes=budget,
        kv_bytes_per_token=per_token,
        kv_token_capacity=max(0, budget) // per_token if per_token else 0,
        concurrent_seqs=max(0, budget) // per_seq if per_seq else 0,
    )

    def fits_ctx(ctx: int) -> bool:
        return o.parallel * paged_sequence_kv(shape, o.kv_dtype, ctx).total_bytes <= budget

    max_ctx = _largest(fits_ctx, 1, shape.context_train, step=16)
    # the engine takes its whole reservation, so that is what must be free
    fits = reserved <= gpu.free_bytes and capacity.concurrent_seqs >= o.parallel
    left = gpu.free_bytes - reserved
    return FitReport(
        shape, o, needed, gpu, fits, left, max_ctx, capacity.concurrent_seqs or None, capacity
    )


def _largest(ok: Callable[[int], bool], lo: int, hi: int, step: int = 1) -> int | None:
    """The largest multiple of ``step`` in [lo, hi] for which the monotone ``ok`` holds."""
    first, last = -(-lo // step), hi // step
    if last < first or not ok(first * step):
        return None
    while first < last:
        mid = (first + last + 1) // 2
        if ok(mid * step):
            first = mid
        else:
            last = mid - 1
    return first * step
