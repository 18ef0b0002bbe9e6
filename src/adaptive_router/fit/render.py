"""A :class:`FitReport` as a readable table or as JSON (bytes everywhere, for scripts).

GiB is 2**30 bytes, the unit nvidia-smi (MiB) and the router's ``vram_headroom_gb`` use; a
card sold as "16 GB" has 16 GiB.
"""

from __future__ import annotations

from typing import Any

from adaptive_router.fit.fitting import FitReport
from adaptive_router.fit.memory import FitOptions, GiB, kv_bytes_per_token

MiB = 1024**2


def engine_flags(o: FitOptions) -> str:
    """The engine's own flags for these options, as an operator would type them."""
    if o.engine == "llama.cpp":
        flags = [f"-c {o.ctx}", f"-np {o.parallel}", f"-ub {o.ubatch}"]
        if o.kv_dtype != "f16":
            flags.append(f"-ctk {o.kv_dtype} -ctv {o.kv_dtype} -fa on")
        flags += ["--swa-full"] * o.swa_full + ["-kvu"] * o.kv_unified
        return " ".join(flags)
    share = "--gpu-memory-utilization" if o.engine == "vllm" else "--mem-fraction-static"
    dtype = {"fp8": "fp8"}.get(o.kv_dtype, "auto")
    flags = [f"--max-model-len {o.ctx}", f"{share} {o.gpu_memory_utilization:g}"]
    flags += [f"--kv-cache-dtype {dtype}"] + ["--enforce-eager"] * o.enforce_eager
    return " ".join(flags)


def as_json(report: FitReport, gpu_note: str = "") -> dict[str, Any]:
    """Every number of the report, in bytes; ``gpu`` is null when no GPU size is known."""
    e, o, kv = report.estimate, report.options, report.estimate.kv
    data: dict[str, Any] = {
        "model": report.shape.name,
        "architecture": report.shape.architecture,
        "layout": report.shape.describe(),
        "weights_source": report.shape.weights_note,
        "params": report.shape.params,
        "engine": o.engine,
        "engine_flags": engine_flags(o),
        "ctx": o.ctx,
        "parallel": o.parallel,
        "kv_dtype": o.kv_dtype,
        "weights_bytes": e.weights_bytes,
        "kv_bytes": kv.total_bytes,
        "kv_global_bytes": kv.global_bytes,
        "kv_swa_bytes": kv.swa_bytes,
        "kv_global_cells": kv.global_cells,
        "kv_swa_cells": kv.swa_cells,
        "kv_streams": kv.streams,
        "compute_bytes": e.compute_bytes,
        "output_bytes": e.output_bytes,
        "runtime_bytes": e.runtime_bytes,
        "overhead_bytes": e.overhead_bytes,
        "total_bytes": e.total_bytes,
        "gpu": None,
        "fits": report.fits,
        "left_bytes": report.left_bytes,
        "max_ctx": report.max_ctx,
        "max_parallel": report.max_parallel,
    }
    if report.gpu is not None:
        g = report.gpu
        data["gpu"] = {"total_bytes": g.total_bytes, "free_bytes": g.free_bytes, "source": g.source}
    else:
        data["gpu_unknown"] = gpu_note or "no GPU size given"
    if o.engine != "llama.cpp":
        data["kv_bytes_per_token"] = kv_bytes_per_token(report.shape, o.kv_dtype)
        data["gpu_memory_utilization"] = o.gpu_memory_utilization
        if report.paged is not None:
            data.update(
                reserved_bytes=report.paged.reserved_bytes,
                kv_budget_bytes=report.paged.kv_budget_bytes,
                kv_token_capacity=report.paged.kv_token_capacity,
                concurrent_seqs=report.paged.concurrent_seqs,
            )
    return data


def _size(n: int) -> str:
    return f"{n / GiB:9.2f} GiB" if abs(n) >= GiB else f"{n / MiB:9.2f} MiB"


def as_table(report: FitReport, gpu_note: str = "") -> str:
    """The report for a terminal: what takes memory, what is left, how far it stretches."""
    shape, o, e, kv = report.shape, report.options, report.estimate, report.estimate.kv
    cells = f"{kv.streams} x" if o.engine == "llama.cpp" else f"{kv.streams} seq x"
    n_global, n_swa = len(shape.cache_layers(False)), len(shape.cache_layers(True))
    lines = [
        f"model    {shape.name}: {shape.describe()}",
        f"weights  {shape.weights_note}",
        f"engine   {o.engine} {engine_flags(o)}  (KV cache {o.kv_dtype})",
        "",
        f"  weights                     {_size(e.weights_bytes)}",
        f"  KV cache, global layers     {_size(kv.global_bytes)}"
        f"   {cells} {kv.global_cells} cells, {n_global} layers",
    ]
    if n_swa:
        lines.append(
            f"  KV cache, sliding window    {_size(kv.swa_bytes)}"
            f"   {cells} {kv.swa_cells} cells, {n_swa} layers"
        )
    lines += _overhead_lines(report)
    lines.append(f"  total                       {_size(e.total_bytes)}")
    lines += ["", *_gpu_lines(report, gpu_note)]
    return "\n".join(lines)


def _overhead_lines(report: FitReport) -> list[str]:
    e = report.estimate
    lines = [f"  compute + activations       {_size(e.compute_bytes)}   (estimate)"]
    if e.output_bytes:
        lines.append(f"  output (logits) buffer      {_size(e.output_bytes)}")
    if e.runtime_bytes:
        eager = " (--enforce-eager)" if report.options.enforce_eager else " + CUDA graphs"
        lines.append(f"  CUDA context{eager:<17}{_size(e.runtime_bytes)}   (assumed)")
    return lines


def _gpu_lines(report: FitReport, gpu_note: str) -> list[str]:
    o, gpu = report.options, report.gpu
    if gpu is None:
        lines = [f"GPU      unknown: {gpu_note or 'no GPU size given'} (give --gpu-gb)"]
        if o.engine != "llama.cpp":
            per_token = kv_bytes_per_token(report.shape, o.kv_dtype)
            lines.append(f"KV cache per token, every layer: {per_token:,} bytes")
        return lines
    lines = [f"GPU      {gpu.free_bytes / GiB:.2f} GiB free of {gpu.total_bytes / GiB:.2f} GiB "
             f"({gpu.source})"]  # fmt: skip
    if report.paged is not None:
        p = report.paged
        lines += [
            f"reserved {_size(p.reserved_bytes).strip()} ({o.gpu_memory_utilization:g} of the GPU);"
            f" left for KV cache {_size(p.kv_budget_bytes).strip()}",
            f"KV cache {p.kv_bytes_per_token:,} bytes a token (every layer): "
            f"capacity {p.kv_token_capacity:,} tokens",
            f"         {p.concurrent_seqs} concurrent sequences of {o.ctx} tokens",
        ]
    verdict = "FITS" if report.fits else "DOES NOT FIT"
    lines.append(f"left     {_size(report.left_bytes or 0).strip()} -> {verdict}")
    lines += _limits(report)
    return lines


def _limits(report: FitReport) -> list[str]:
    o = report.options
    ctx = "none" if report.max_ctx is None else f"{report.max_ctx:,} tokens"
    if o.engine == "llama.cpp":
        slots = report.max_parallel or "none"
        return [
            f"largest  -c that fits with -np {o.parallel}: {ctx}",
            f"         -np that fits at {o.slot_tokens} tokens a slot: {slots}",
        ]
    return [f"largest  --max-model-len for {o.parallel} sequence(s): {ctx}"]
