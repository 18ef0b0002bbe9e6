"""Reading config.json files and model folders: parameter counts, safetensors, Gemma 4."""

from __future__ import annotations

import json
import struct
from collections.abc import Callable
from pathlib import Path

import pytest

from adaptive_router.errors import DataFileError
from adaptive_router.fit import FitOptions, estimate, load_model
from adaptive_router.fit.hf_model import read_config
from adaptive_router.fit.memory import kv_bytes_per_token
from tests.fit.conftest import LLAMA_3_8B, MODELS_DIR


def test_llama_3_8b_on_vllm(write_config: Callable[..., Path]) -> None:
    shape = read_config(write_config(LLAMA_3_8B))
    # 32 layers x 8 KV heads x 128 x (K + V) x 2 bytes
    assert kv_bytes_per_token(shape, "bf16") == 131_072
    assert shape.params == 8_030_261_248  # Meta-Llama-3-8B's published parameter count
    assert shape.weights_bytes == pytest.approx(16.06e9, rel=0.001)
    needed = estimate(shape, FitOptions(engine="vllm", ctx=8192, kv_dtype="bf16"))
    assert needed.kv.total_bytes == 131_072 * 8192


def test_safetensors_headers_give_the_weights(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text(json.dumps(LLAMA_3_8B))
    for name, sizes in (("a", [100, 28]), ("b", [1000])):
        header: dict[str, object] = {"__metadata__": {"format": "pt"}}
        offset = 0
        for i, size in enumerate(sizes):
            header[f"t{i}"] = {
                "dtype": "BF16",
                "shape": [size // 2],
                "data_offsets": [offset, offset + size],
            }
            offset += size
        raw = json.dumps(header).encode()
        (tmp_path / f"{name}.safetensors").write_bytes(
            struct.pack("<Q", len(raw)) + raw + bytes(offset)
        )
    shape = load_model(tmp_path)
    assert shape.weights_bytes == 1128
    assert shape.weights_note == "2 safetensors file(s)"
    # a format asked for explicitly sizes from the config instead
    assert load_model(tmp_path, "awq-int4").weights_bytes > 1128


def test_damaged_safetensors_is_named(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text(json.dumps(LLAMA_3_8B))
    (tmp_path / "model.safetensors").write_bytes(struct.pack("<Q", 50) + b"{not json")
    with pytest.raises(DataFileError, match="truncated or damaged safetensors header"):
        load_model(tmp_path)


def test_gemma4_26b_a4b_data_file() -> None:
    shape = load_model(MODELS_DIR / "gemma-4-26B-A4B-it.json")
    assert shape.describe() == "gemma4_text, 30 layers; 25 sliding-window (1024 tokens) + 5 global"
    # the model card: 25.2 B parameters (3.8 B active); the text decoder is nearly all of it
    assert shape.params == pytest.approx(25.2e9, rel=0.01)
    sliding, full = shape.layers[0], shape.layers[5]
    assert (sliding.kv_heads, sliding.head_dim_k) == (8, 256)
    assert (full.kv_heads, full.head_dim_k) == (2, 512)  # keys double as values: 2 heads of 512
    assert shape.weights_bytes == 2 * shape.params


def test_gemma4_e4b_shares_the_cache_of_its_last_18_layers() -> None:
    shape = load_model(MODELS_DIR / "gemma-4-E4B-it.json")
    assert sum(layer.stores_kv for layer in shape.layers) == 24
    assert len(shape.cache_layers(sliding=False)) == 4
    # per-layer embeddings: 262144 x 42 x 256 = 2.82 B of the 7.52 B text parameters
    assert shape.params == pytest.approx(7.52e9, rel=0.005)
    # global layers: 2 KV heads of 512 (no num_global_key_value_heads without k_eq_v)
    assert kv_bytes_per_token(shape, "bf16") == 20 * 2048 + 4 * 4096


def test_quantization_config_and_quant_option(write_config: Callable[..., Path]) -> None:
    bf16 = read_config(write_config(LLAMA_3_8B)).weights_bytes
    awq_cfg = {
        **LLAMA_3_8B,
        "quantization_config": {"quant_method": "awq", "bits": 4, "group_size": 128},
    }
    awq = read_config(write_config(awq_cfg, "awq.json")).weights_bytes
    assert awq == read_config(write_config(LLAMA_3_8B), "awq-int4").weights_bytes
    assert 0.3 * bf16 < awq < 0.4 * bf16  # 4.16 bits for the matrices, embeddings stay 16-bit
    fp8 = read_config(write_config(LLAMA_3_8B), "fp8").weights_bytes
    assert 0.5 * bf16 < fp8 < 0.6 * bf16


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("plain text, not json", "neither a GGUF file nor JSON"),
        ('{"hidden_size": 10}', "not a Hugging Face config.json"),
        ('{"model_type": "mamba", "num_hidden_layers": 4}', "model_type 'mamba' is not one"),
        ('{"model_type": "llama", "num_hidden_layers": 4}', "hidden_size must be a positive"),
    ],
)
def test_bad_configs_are_named(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "model.json"
    path.write_text(content)
    with pytest.raises(DataFileError, match=message):
        load_model(path)


def test_binary_file_is_neither_gguf_nor_json(tmp_path: Path) -> None:
    path = tmp_path / "weights.bin"
    path.write_bytes(bytes(range(256)) * 4)
    with pytest.raises(DataFileError, match="neither a GGUF file nor JSON"):
        load_model(path)
