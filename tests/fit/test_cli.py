"""``stratum fit`` as a user runs it: the table, --json, the GPU, and one-line errors."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from adaptive_router.fit.cli import fit_command
from adaptive_router.fit.load import nvml_gpu
from adaptive_router.fit.memory import GiB
from tests.conftest import FakeNVML
from tests.fit.conftest import LLAMA_3_8B, MODELS_DIR, write_gguf


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(fit_command, list(args))
    return result.exit_code, result.output


def test_json_for_scripts(gemma_gguf: Path) -> None:
    code, out = run(str(gemma_gguf), "--ctx", "4096", "--parallel", "4", "--gpu-gb", "16", "--json")
    assert code == 0
    data = json.loads(out)
    assert data["weights_bytes"] == 246_587_904
    assert data["kv_bytes"] == data["kv_global_bytes"] + data["kv_swa_bytes"] == 72 * 1024**2
    assert data["total_bytes"] == data["weights_bytes"] + data["kv_bytes"] + data["overhead_bytes"]
    assert data["gpu"] == {"total_bytes": 16 * GiB, "free_bytes": 16 * GiB, "source": "--gpu-gb 16"}
    assert data["fits"] is True
    assert data["max_ctx"] > 4096
    assert data["max_parallel"] > 4
    assert data["engine_flags"] == "-c 4096 -np 4 -ub 512"


def test_table_splits_sliding_and_global_layers(gemma_gguf: Path) -> None:
    code, out = run(str(gemma_gguf), "--ctx", "16384", "--gpu-gb", "1")
    words = " ".join(out.split())
    assert code == 0
    assert "KV cache, global layers 48.00 MiB 1 x 16384 cells, 3 layers" in words
    assert "KV cache, sliding window 15.00 MiB 1 x 1024 cells, 15 layers" in words
    assert "-> FITS" in out
    assert "largest  -c that fits with -np 1: 32,768 tokens" in out


def test_vllm_capacity_for_a_config(write_config: Callable[..., Path]) -> None:
    path = write_config(LLAMA_3_8B)
    args = ["--engine", "vllm", "--ctx", "8192", "--kv-dtype", "bf16", "--gpu-gb", "24"]
    code, out = run(str(path), *args, "--json")
    data = json.loads(out)
    assert code == 0
    assert data["kv_bytes_per_token"] == 131_072
    assert data["kv_token_capacity"] == data["kv_budget_bytes"] // 131_072
    assert data["concurrent_seqs"] == data["kv_budget_bytes"] // (131_072 * 8192)
    code, table = run(str(path), *args)
    assert "131,072 bytes a token" in table
    assert "concurrent sequences of 8192 tokens" in table


def test_without_nvml_the_gpu_is_unknown(gemma_gguf: Path) -> None:
    code, out = run(str(gemma_gguf), "--json")
    data = json.loads(out)
    assert code == 0
    assert data["gpu"] is None
    assert data["fits"] is None
    assert "NVML" in data["gpu_unknown"] or "GPU" in data["gpu_unknown"]
    code, table = run(str(gemma_gguf))
    assert "GPU      unknown:" in table
    assert "FITS" not in table


def test_nvml_free_memory_is_what_counts() -> None:
    gpu, why = nvml_gpu(0, FakeNVML({0: (10.0, 16.0, 5.0)}))
    assert gpu is not None
    assert why == ""
    assert (gpu.total_bytes, gpu.free_bytes) == (16 * GiB, 10 * GiB)
    broken = FakeNVML({0: (10.0, 16.0, 5.0)})
    broken.fail_init = True
    assert nvml_gpu(0, broken)[0] is None


def test_the_data_files_run(tmp_path: Path) -> None:
    for name in ("gemma-4-26B-A4B-it.json", "gemma-4-E4B-it.json"):
        code, out = run(str(MODELS_DIR / name), "--engine", "vllm", "--gpu-gb", "24", "--json")
        assert code == 0, out
        assert json.loads(out)["weights_bytes"] > 10 * GiB


@pytest.mark.parametrize(
    ("make", "args", "message"),
    [
        ("missing", (), "no such file or folder"),
        ("text", (), "neither a GGUF file nor JSON"),
        ("binary", (), "neither a GGUF file nor JSON"),
        ("truncated", (), "truncated or damaged GGUF file"),
        ("mamba", (), "architecture 'mamba' is not one stratum fit can size"),
        ("gguf", ("--ctx", "-4096"), "--ctx must be from 1 to 16777216 tokens, got -4096"),
        ("gguf", ("--ctx", "100000000"), "--ctx must be from 1 to 16777216 tokens"),
        ("gguf", ("--kv-dtype", "fp8"), "not a llama.cpp KV cache type"),
        ("gguf", ("--gpu-gb", "-1"), "--gpu-gb must be a size in GiB above 0"),
        ("gguf", ("--quant", "awq-int4"), "--quant sizes config.json models"),
    ],
)
def test_bad_input_is_one_line(
    tmp_path: Path, make: str, args: tuple[str, ...], message: str
) -> None:
    path = tmp_path / "model.gguf"
    if make == "text":
        path.write_text("hello")
    elif make == "binary":
        path.write_bytes(bytes(range(256)))
    elif make == "truncated":
        path.write_bytes(write_gguf(tmp_path / "whole.gguf").read_bytes()[:300])
    elif make == "mamba":
        write_gguf(path, arch="mamba")
    elif make == "gguf":
        write_gguf(path)
    code, out = run(str(path), *args)
    assert code == 1
    assert out.count("\n") == 1, out
    assert out.startswith("Error: ")
    assert message in out


def test_registered_as_stratum_fit(gemma_gguf: Path) -> None:
    from adaptive_router.cli import main

    result = CliRunner().invoke(main, ["fit", str(gemma_gguf), "--json"])
    assert result.exit_code == 0
    assert json.loads(result.output)["weights_bytes"] == 246_587_904
