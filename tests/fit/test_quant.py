"""Weight formats sized from a config: llama.cpp's Q4_K_M recipe, checked on a real GGUF."""

from __future__ import annotations

from pathlib import Path

from adaptive_router.fit.gguf_model import read_gguf
from adaptive_router.fit.hf_params import tensors
from adaptive_router.fit.quant import use_more_bits, weight_bytes

# google/gemma-3-270m's config.json, as the GGUF's metadata gives it
GEMMA3_270M = {
    "model_type": "gemma3_text",
    "hidden_size": 640,
    "intermediate_size": 2048,
    "num_hidden_layers": 18,
    "num_attention_heads": 4,
    "num_key_value_heads": 1,
    "head_dim": 256,
    "vocab_size": 262144,
    "sliding_window": 512,
    "max_position_embeddings": 32768,
}


def test_q4_k_m_estimate_matches_the_real_file(gemma_gguf: Path) -> None:
    real = read_gguf(gemma_gguf)
    inventory = tensors(GEMMA3_270M)
    assert sum(t.params for t in inventory) == real.params
    assert weight_bytes(inventory, "q4_k_m") == real.weights_bytes


def test_use_more_bits_layers_as_in_the_270m_file() -> None:
    # the 270M GGUF's attn_v / ffn_down: Q8_0 / Q6_K on these layers, Q5_0 / Q4_K elsewhere
    assert [i for i in range(18) if use_more_bits(i, 18)] == [0, 1, 4, 7, 10, 13, 15, 16, 17]


def test_formats_order_by_size() -> None:
    inventory = tensors({**GEMMA3_270M, "hidden_size": 1024, "head_dim": 256})
    sizes = [weight_bytes(inventory, q) for q in ("bf16", "q8_0", "fp8", "q4_k_m", "awq-int4")]
    assert sizes[0] == 2 * sum(t.params for t in inventory)
    assert sizes[0] > sizes[1] > sizes[3]
    assert sizes[2] < sizes[0]
