"""Bytes per value: the KV cache types each engine offers, and the weight formats.

KV types are ggml's block types where llama.cpp is concerned: ``q8_0`` stores 32 values in
34 bytes (32 int8 and one f16 scale), ``q4_0`` 32 values in 18 bytes (ggml-common.h).
vLLM and SGLang cache in the model's dtype (``auto``: bf16/f16) or in ``fp8`` (one byte).

    >>> kv_row_bytes("q8_0", 256)
    272
    >>> kv_row_bytes("f16", 256)
    512
"""

from __future__ import annotations

from dataclasses import dataclass

from adaptive_router.errors import ConfigError


@dataclass(frozen=True, slots=True)
class BlockType:
    """A storage type: ``block`` values take ``block_bytes`` bytes."""

    name: str
    block: int
    block_bytes: int

    def row_bytes(self, values: int) -> int:
        """Bytes of a row of ``values`` values (ggml_row_size); the row must fill whole blocks."""
        if values % self.block:
            raise ConfigError(
                f"{self.name} stores values in blocks of {self.block}; a row of {values} "
                "does not divide into them"
            )
        return values // self.block * self.block_bytes

    @property
    def bits(self) -> float:
        return self.block_bytes * 8 / self.block


# ggml types (ggml-common.h: block_q4_0 = f16 + 16 bytes, block_q8_0 = f16 + 32 bytes,
# block_q4_K = 144 bytes per 256, block_q5_K 176, block_q6_K 210, block_q5_0 22 per 32).
GGML = {
    t.name: t
    for t in (
        BlockType("f32", 1, 4),
        BlockType("f16", 1, 2),
        BlockType("bf16", 1, 2),
        BlockType("q8_0", 32, 34),
        BlockType("q5_0", 32, 22),
        BlockType("q4_0", 32, 18),
        BlockType("q6_k", 256, 210),
        BlockType("q5_k", 256, 176),
        BlockType("q4_k", 256, 144),
        BlockType("fp8", 1, 1),
    )
}

KV_DTYPES = ("f16", "bf16", "q8_0", "q4_0", "fp8")
ENGINE_KV_DTYPES = {
    "llama.cpp": ("f16", "bf16", "q8_0", "q4_0"),  # -ctk / -ctv
    "vllm": ("f16", "bf16", "fp8"),  # --kv-cache-dtype auto (model dtype) or fp8
    "sglang": ("f16", "bf16", "fp8"),  # --kv-cache-dtype auto or fp8_e4m3 / fp8_e5m2
}


def check_kv_dtype(engine: str, dtype: str) -> BlockType:
    """The block type of a KV cache dtype, or a ConfigError naming what the engine offers."""
    offered = ENGINE_KV_DTYPES[engine]
    if dtype not in offered:
        raise ConfigError(
            f"--kv-dtype {dtype} is not a {engine} KV cache type; it offers: {', '.join(offered)}"
        )
    return GGML[dtype]


def kv_row_bytes(dtype: str, values: int) -> int:
    """Bytes of one token's K (or V) row of ``values`` values in ``dtype``."""
    return GGML[dtype].row_bytes(values)


# Weight formats a config.json model can be sized in (``--quant``); GGUF files need none:
# their tensor sizes are read as they are.
QUANTS = ("bf16", "f16", "fp8", "awq-int4", "gptq-int4", "q8_0", "q4_k_m")

# config.json ``torch_dtype`` / ``dtype`` -> bytes per parameter
TORCH_DTYPE_BYTES = {"bfloat16": 2, "float16": 2, "float32": 4, "float8_e4m3fn": 1}
