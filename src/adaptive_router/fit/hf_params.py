"""The weight tensors a Hugging Face ``config.json`` implies: one entry per tensor kind and layer.

Used when a model's files are not at hand (only its ``config.json``): the parameter count,
and which tensors a quantization format would shrink, follow from the inventory. Handled:
dense decoders (Llama, Mistral, Qwen, Gemma 1-3), mixture-of-experts feed-forwards (routed
experts, a shared expert, Gemma 4's dense-plus-experts blocks), Gemma 4's wider global heads,
keys used as values (``attention_k_eq_v``) and per-layer embeddings. Vision and audio towers
are not counted: ``text_config`` only.

    >>> cfg = {"hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4,
    ...        "intermediate_size": 128, "vocab_size": 100}
    >>> sum(t.params for t in tensors(cfg))
    95040
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from adaptive_router.errors import ConfigError

Config = Mapping[str, Any]
LINEAR_ROLES = frozenset(
    {"attn_q", "attn_k", "attn_v", "attn_o", "ffn_gate", "ffn_up", "ffn_down"}
    | {"exp_gate", "exp_up", "exp_down", "ple_gate", "ple_proj", "ple_model_proj"}
)


@dataclass(frozen=True, slots=True)
class Tensor:
    """``params`` weights whose rows hold ``row`` values (ggml's ne0, the input width)."""

    role: str
    layer: int | None
    row: int
    params: int


def need(cfg: Config, key: str) -> int:
    """A positive integer field of the config, or a ConfigError naming it."""
    value = cfg.get(key)
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise ConfigError(f"config.json: {key} must be a positive integer, got {value!r}")
    return value


def sliding_flags(cfg: Config) -> list[bool]:
    """Which layers use sliding-window attention, as transformers lays them out."""
    n_layers = need(cfg, "num_hidden_layers")
    types = cfg.get("layer_types")
    if isinstance(types, list):
        if len(types) != n_layers:
            raise ConfigError(f"config.json: layer_types has {len(types)} entries, not {n_layers}")
        return [t == "sliding_attention" for t in types]
    if not cfg.get("sliding_window"):
        return [False] * n_layers
    model_type = str(cfg.get("model_type", ""))
    if model_type.startswith("gemma2"):
        pattern = 2
    elif model_type.startswith("gemma3"):
        pattern = int(cfg.get("sliding_window_pattern") or 6)
    elif cfg.get("use_sliding_window") is False:
        return [False] * n_layers
    else:
        return [True] * n_layers  # Mistral-style: every layer slides
    return [bool((i + 1) % pattern) for i in range(n_layers)]


def kv_shared_from(cfg: Config) -> int:
    """Index of the first layer that reuses an earlier layer's cache (Gemma 3n / 4 E models)."""
    return need(cfg, "num_hidden_layers") - int(cfg.get("num_kv_shared_layers") or 0)


def attention_dims(cfg: Config, sliding: bool) -> tuple[int, int, int]:
    """(query heads, KV heads, head size) of a sliding or global layer."""
    heads = need(cfg, "num_attention_heads")
    kv_heads = int(cfg.get("num_key_value_heads") or heads)
    head_dim = int(cfg.get("head_dim") or need(cfg, "hidden_size") // heads)
    if sliding:
        return heads, kv_heads, head_dim
    # Gemma 4 (transformers' Gemma4TextConfig): global layers have their own head size
    # (default 512) and, where keys double as values, their own KV head count
    gemma4 = str(cfg.get("model_type", "")).startswith("gemma4")
    global_dim = int(cfg.get("global_head_dim") or (512 if gemma4 else head_dim))
    if cfg.get("attention_k_eq_v", not gemma4) and cfg.get("num_global_key_value_heads"):
        kv_heads = int(cfg["num_global_key_value_heads"])
    return heads, kv_heads, global_dim


def tensors(cfg: Config) -> list[Tensor]:
    """Every weight tensor of the text decoder, grouped by kind and layer."""
    hidden, vocab = need(cfg, "hidden_size"), need(cfg, "vocab_size")
    found = [Tensor("embed", None, hidden, vocab * hidden)]
    tied = cfg.get("tie_word_embeddings")
    if not (_is_gemma(cfg) if tied is None else tied):
        found.append(Tensor("output", None, hidden, vocab * hidden))
    for i, sliding in enumerate(sliding_flags(cfg)):
        found += _attention(cfg, i, sliding)
        found += _feed_forward(cfg, i)
        found += _per_layer_input(cfg, i)
    found += _per_layer_embedding(cfg)
    found.append(Tensor("norm", None, hidden, hidden))
    return found


def _is_gemma(cfg: Config) -> bool:
    return str(cfg.get("model_type", "")).startswith("gemma")


def _attention(cfg: Config, i: int, sliding: bool) -> Iterator[Tensor]:
    hidden = need(cfg, "hidden_size")
    heads, kv_heads, head_dim = attention_dims(cfg, sliding)
    yield Tensor("attn_q", i, hidden, hidden * heads * head_dim)
    yield Tensor("attn_k", i, hidden, hidden * kv_heads * head_dim)
    if sliding or not cfg.get("attention_k_eq_v"):
        yield Tensor("attn_v", i, hidden, hidden * kv_heads * head_dim)
    yield Tensor("attn_o", i, heads * head_dim, heads * head_dim * hidden)
    norms = 4 * hidden + 2 * head_dim if _is_gemma(cfg) else 2 * hidden
    yield Tensor("norm", i, hidden, norms)


def _feed_forward(cfg: Config, i: int) -> Iterator[Tensor]:
    hidden = need(cfg, "hidden_size")
    experts = int(cfg.get("num_experts") or cfg.get("num_local_experts") or 0)
    dense = int(cfg.get("intermediate_size") or 0)
    if experts:
        expert_width = int(cfg.get("moe_intermediate_size") or dense)
        yield Tensor("router", i, hidden, hidden * experts)
        yield Tensor("exp_gate", i, hidden, experts * hidden * expert_width)
        yield Tensor("exp_up", i, hidden, experts * hidden * expert_width)
        yield Tensor("exp_down", i, expert_width, experts * expert_width * hidden)
        # Gemma 4's MoE blocks keep a dense MLP beside the experts; Qwen-MoE a shared expert
        dense = dense if _is_gemma(cfg) else int(cfg.get("shared_expert_intermediate_size") or 0)
    if dense and cfg.get("use_double_wide_mlp") and i >= kv_shared_from(cfg):
        dense *= 2
    if dense:
        yield Tensor("ffn_gate", i, hidden, hidden * dense)
        yield Tensor("ffn_up", i, hidden, hidden * dense)
        yield Tensor("ffn_down", i, dense, dense * hidden)


def _per_layer_input(cfg: Config, i: int) -> Iterator[Tensor]:
    width = int(cfg.get("hidden_size_per_layer_input") or 0)
    if width:
        hidden = need(cfg, "hidden_size")
        yield Tensor("ple_gate", i, hidden, hidden * width)
        yield Tensor("ple_proj", i, width, width * hidden)


def _per_layer_embedding(cfg: Config) -> Iterator[Tensor]:
    width = int(cfg.get("hidden_size_per_layer_input") or 0)
    if width:
        n_layers, hidden = need(cfg, "num_hidden_layers"), need(cfg, "hidden_size")
        vocab = int(cfg.get("vocab_size_per_layer_input") or need(cfg, "vocab_size"))
        yield Tensor("ple_embed", None, n_layers * width, vocab * n_layers * width)
        yield Tensor("ple_model_proj", None, hidden, hidden * n_layers * width)
