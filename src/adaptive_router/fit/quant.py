"""Weight bytes of a tensor inventory in a given format, when no weight file can be read.

- ``bf16`` / ``f16``: two bytes a parameter; ``fp8``: one byte for the linear layers.
- ``awq-int4`` / ``gptq-int4``: 4-bit linear layers with an f16 scale and a 4-bit zero point
  per group of ``group_size`` (128) weights; embeddings, norms and routers stay 16-bit.
- ``q8_0``: every matrix in ggml's Q8_0 (8.5 bits a weight); norms and routers f32.
- ``q4_k_m``: llama.cpp's Q4_K_M recipe (``llama_tensor_get_type`` in llama-quant.cpp):
  Q4_K, except Q6_K for the output matrix and for ``attn_v`` / ``ffn_down`` on the layers
  ``use_more_bits`` picks (the first and last eighth, and every third one between); a row
  that does not fill 256-value blocks falls back (Q4_K to Q5_0, Q6_K to Q8_0). Checked
  against the Gemma 3 270M Q4_K_M GGUF in the tests.
"""

from __future__ import annotations

from collections.abc import Sequence

from adaptive_router.errors import ConfigError
from adaptive_router.fit.dtypes import GGML, QUANTS
from adaptive_router.fit.hf_params import LINEAR_ROLES, Tensor

_K_FALLBACK = {"q4_k": "q5_0", "q6_k": "q8_0"}


def weight_bytes(inventory: Sequence[Tensor], quant: str, group_size: int = 128) -> int:
    """Bytes of every tensor of ``inventory`` stored as ``quant``."""
    if quant not in QUANTS:
        raise ConfigError(f"unknown weight format {quant!r}; known: {', '.join(QUANTS)}")
    if quant == "q4_k_m":
        return _q4_k_m(inventory)
    return sum(round(t.params * _bits(t, quant, group_size) / 8) for t in inventory)


def _bits(t: Tensor, quant: str, group_size: int) -> float:
    matrix = t.role in LINEAR_ROLES
    if quant in ("bf16", "f16"):
        return 16.0
    if quant == "fp8":
        return 8.0 if matrix else 16.0
    if quant in ("awq-int4", "gptq-int4"):
        return 4.0 + 20.0 / group_size if matrix else 16.0
    # q8_0: every 2-D tensor but the router
    return GGML["q8_0"].bits if matrix or t.role in ("embed", "output") else 32.0


def use_more_bits(i_layer: int, n_layers: int) -> bool:
    """llama.cpp's choice of the layers that get more bits in the _M k-quant mixes."""
    eighth = n_layers // 8
    return i_layer < eighth or i_layer >= 7 * n_layers // 8 or (i_layer - eighth) % 3 == 2


def _q4_k_m(inventory: Sequence[Tensor]) -> int:
    tied = not any(t.role == "output" for t in inventory)
    n_layers = 1 + max((t.layer for t in inventory if t.layer is not None), default=0)
    v_layers = sorted({t.layer for t in inventory if t.role == "attn_v" and t.layer is not None})
    total = 0
    for t in inventory:
        name = _q4_k_m_type(t, tied, n_layers, v_layers)
        block = GGML[name]
        if t.row % block.block:
            name = _K_FALLBACK.get(name, name)
        total += t.params // GGML[name].block * GGML[name].block_bytes
    return total


def _q4_k_m_type(t: Tensor, tied: bool, n_layers: int, v_layers: list[int]) -> str:
    if t.role in ("norm", "router"):
        return "f32"
    if t.role == "output" or (t.role == "embed" and tied):
        return "q6_k"  # a tied embedding is quantized as the output matrix
    if t.role == "attn_v" and t.layer is not None:
        more = use_more_bits(v_layers.index(t.layer), len(v_layers))
        return "q6_k" if more else "q4_k"
    if t.role in ("ffn_down", "exp_down") and t.layer is not None:
        return "q6_k" if use_more_bits(t.layer, n_layers) else "q4_k"
    return "q4_k"
