"""ModelShape: what a model's memory footprint depends on, read once from its files.

A shape is engine-neutral: the layers with their KV geometry (which are sliding-window, which
keep a cache of their own), the sizes the compute buffers scale with, and the weights in bytes
with a note saying how they were found (tensor sizes of a GGUF, safetensors headers, or a
parameter count from ``config.json``). :mod:`adaptive_router.fit.memory` turns a shape and an
engine's settings into bytes.

    >>> layer = LayerKV(kv_heads=8, head_dim_k=128, head_dim_v=128)
    >>> layer.values_per_token
    2048
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class LayerKV:
    """One attention layer's cache geometry.

    ``sliding``: the layer attends only to the last ``ModelShape.sliding_window`` tokens.
    ``stores_kv``: False where the layer reads another layer's cache (Gemma 3n / Gemma 4 E
    models share the cache of their last layers), so it allocates nothing.
    """

    kv_heads: int
    head_dim_k: int
    head_dim_v: int
    sliding: bool = False
    stores_kv: bool = True

    @property
    def k_width(self) -> int:
        """Values of K per token (llama.cpp's ``n_embd_k_gqa``)."""
        return self.kv_heads * self.head_dim_k

    @property
    def v_width(self) -> int:
        """Values of V per token (``n_embd_v_gqa``)."""
        return self.kv_heads * self.head_dim_v

    @property
    def values_per_token(self) -> int:
        return self.k_width + self.v_width


@dataclass(frozen=True, slots=True)
class ModelShape:
    """A model as the memory formulas see it. Sizes are counts; ``weights_bytes`` is bytes."""

    name: str
    architecture: str
    layers: tuple[LayerKV, ...]
    sliding_window: int  # 0: no sliding-window layers
    context_train: int
    vocab_size: int
    hidden_size: int
    ffn_size: int  # the widest feed-forward activation per token (MoE: active experts)
    n_heads: int
    weights_bytes: int
    weights_note: str  # how weights_bytes was found
    params: int | None = None

    @property
    def n_layers(self) -> int:
        return len(self.layers)

    def cache_layers(self, sliding: bool) -> tuple[LayerKV, ...]:
        """The layers that keep a cache of their own, sliding-window or global."""
        return tuple(layer for layer in self.layers if layer.stores_kv and layer.sliding == sliding)

    @property
    def has_sliding(self) -> bool:
        return self.sliding_window > 0 and bool(self.cache_layers(sliding=True))

    def describe(self) -> str:
        """One line: architecture, layers and their split, window."""
        n_swa = len(self.cache_layers(sliding=True))
        n_global = len(self.cache_layers(sliding=False))
        shared = self.n_layers - n_swa - n_global
        parts = [f"{self.architecture}, {self.n_layers} layers"]
        if n_swa:
            window = f"{self.sliding_window} tokens"
            parts.append(f"{n_swa} sliding-window ({window}) + {n_global} global")
        if shared:
            parts.append(f"{shared} reuse another layer's cache")
        return "; ".join(parts)
