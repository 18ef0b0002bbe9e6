"""Grading against a GPU: verdicts, the largest context and slot count, vLLM's capacity."""

from __future__ import annotations

import dataclasses

from adaptive_router.fit import FitOptions, Gpu, estimate, fit
from adaptive_router.fit.memory import GiB
from tests.fit.test_memory import GEMMA3_270M, MiB

BIG = dataclasses.replace(GEMMA3_270M, weights_bytes=15 * GiB, context_train=1 << 20)


def test_unknown_gpu_gives_sizes_and_no_verdict() -> None:
    report = fit(GEMMA3_270M, FitOptions(), None)
    assert report.fits is None
    assert report.max_ctx is None
    assert report.left_bytes is None
    assert report.estimate.total_bytes > GEMMA3_270M.weights_bytes


def test_llama_cpp_verdict_and_limits() -> None:
    gpu = Gpu(16 * GiB, 16 * GiB, "test")
    options = FitOptions(ctx=8192, parallel=2)
    report = fit(BIG, options, gpu)
    assert report.fits is True
    assert report.left_bytes == 16 * GiB - estimate(BIG, options).total_bytes
    assert report.max_ctx is not None
    assert report.max_ctx % 256 == 0
    at_max = dataclasses.replace(options, ctx=report.max_ctx)
    past_max = dataclasses.replace(options, ctx=report.max_ctx + 256)
    assert estimate(BIG, at_max).total_bytes <= gpu.free_bytes < estimate(BIG, past_max).total_bytes
    assert report.max_parallel is not None
    assert report.max_parallel >= 2


def test_grades_against_free_memory_not_total() -> None:
    report = fit(BIG, FitOptions(), Gpu(16 * GiB, 14 * GiB, "test"))
    assert report.fits is False
    assert report.left_bytes is not None
    assert report.left_bytes < 0


def test_vllm_capacity_from_the_utilization_share() -> None:
    gpu = Gpu(24 * GiB, 24 * GiB, "test")
    options = FitOptions(engine="vllm", ctx=8192, kv_dtype="bf16", gpu_memory_utilization=0.9)
    report = fit(BIG, options, gpu)
    paged = report.paged
    assert paged is not None
    assert paged.reserved_bytes == int(24 * GiB * 0.9)
    needed = estimate(BIG, options)
    assert paged.kv_budget_bytes == paged.reserved_bytes - BIG.weights_bytes - needed.overhead_bytes
    assert paged.kv_bytes_per_token == 18 * 1024
    one_seq = needed.kv.total_bytes
    assert paged.concurrent_seqs == paged.kv_budget_bytes // one_seq
    assert report.fits is True
    assert report.max_parallel == paged.concurrent_seqs


def test_vllm_refuses_a_reservation_larger_than_free_memory() -> None:
    gpu = Gpu(24 * GiB, 20 * GiB, "test")  # 0.9 x 24 = 21.6 GiB is more than is free
    assert fit(BIG, FitOptions(engine="vllm", kv_dtype="bf16"), gpu).fits is False


def test_enforce_eager_frees_the_graph_memory() -> None:
    graphs = estimate(BIG, FitOptions(engine="vllm", kv_dtype="bf16")).runtime_bytes
    eager = estimate(BIG, FitOptions(engine="vllm", kv_dtype="bf16", enforce_eager=True))
    assert graphs - eager.runtime_bytes == 512 * MiB


def test_largest_context_stops_at_the_trained_context() -> None:
    report = fit(GEMMA3_270M, FitOptions(parallel=2), Gpu(80 * GiB, 80 * GiB, "test"))
    assert report.max_ctx == 2 * GEMMA3_270M.context_train  # two slots of 32768
