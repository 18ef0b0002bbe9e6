"""Read a Hugging Face model's shape from its ``config.json`` (a file, or a model folder).

Weights come from the safetensors beside the config when there are any (each file's header
gives every tensor's byte range, so nothing is loaded), else from the parameter count the
config implies (:mod:`adaptive_router.fit.hf_params`) in the checkpoint's dtype, its
``quantization_config`` (AWQ, GPTQ, FP8) or the format asked for with ``quant``.

    >>> shape = read_config(Path("deploy/models/gemma-4-E4B-it.json"))  # doctest: +SKIP
    >>> shape.describe()
    'gemma4_text, 42 layers; 20 sliding-window (512 tokens) + 4 global; 18 reuse ...'
"""

from __future__ import annotations

import json
import struct
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from adaptive_router.errors import ConfigError, DataFileError
from adaptive_router.fit import hf_params
from adaptive_router.fit.dtypes import TORCH_DTYPE_BYTES
from adaptive_router.fit.quant import weight_bytes
from adaptive_router.fit.shape import LayerKV, ModelShape

KNOWN_MODEL_TYPES = frozenset(
    {"llama", "mistral", "mixtral", "qwen2", "qwen2_moe", "qwen3", "qwen3_moe", "phi3"}
    | {"gemma", "gemma2", "gemma3", "gemma3_text", "gemma4", "gemma4_text", "granite"}
    | {"olmo2", "starcoder2", "stablelm", "internlm2", "cohere"}
)
_INHERITED = ("tie_word_embeddings", "torch_dtype", "dtype", "quantization_config", "model_type")
_QUANT_METHODS = {"awq": "awq-int4", "gptq": "gptq-int4", "fp8": "fp8"}
_MAX_HEADER = 100 * 1024 * 1024  # a safetensors header larger than this is not one


def read_config(path: Path, quant: str | None = None) -> ModelShape:
    """The shape of the model whose ``config.json`` is ``path`` (or is inside folder ``path``)."""
    config_path = path / "config.json" if path.is_dir() else path
    if not config_path.is_file():
        raise DataFileError(str(path), None, "a model folder needs a config.json")
    cfg = text_config(_load_json(config_path), config_path)
    model_type = str(cfg.get("model_type", ""))
    if model_type not in KNOWN_MODEL_TYPES:
        raise DataFileError(
            str(config_path), None, f"model_type {model_type!r} is not one stratum fit can size "
            f"(attention-only decoders: {', '.join(sorted(KNOWN_MODEL_TYPES))})"
        )  # fmt: skip
    try:
        return _shape(cfg, config_path, quant)
    except ConfigError as exc:
        raise DataFileError(str(config_path), None, str(exc)) from None


def text_config(raw: Any, path: Path) -> dict[str, Any]:
    """The language model's settings: ``text_config`` of a multimodal config, else the config."""
    inner = raw.get("text_config") if isinstance(raw, dict) else None
    if not isinstance(inner, dict):
        inner = None
    if not isinstance(raw, dict) or "num_hidden_layers" not in (inner or raw):
        problem = "not a Hugging Face config.json (no num_hidden_layers)"
        raise DataFileError(str(path), None, problem)
    if inner is None:
        return dict(raw)
    merged = dict(inner)
    for key in _INHERITED:
        if key not in merged and key in raw:
            merged[key] = raw[key]
    return merged


def _load_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise DataFileError(str(path), None, "neither a GGUF file nor JSON (binary data)") from None
    except json.JSONDecodeError as exc:
        problem = f"neither a GGUF file nor JSON ({exc.msg} at line {exc.lineno})"
        raise DataFileError(str(path), None, problem) from None


def _shape(cfg: Mapping[str, Any], path: Path, quant: str | None) -> ModelShape:
    weights, note, params = _weights(cfg, path, quant)
    flags = hf_params.sliding_flags(cfg)
    window = int(cfg.get("sliding_window") or 0) if any(flags) else 0
    first_shared = hf_params.kv_shared_from(cfg)
    layers = []
    for i, sliding in enumerate(flags):
        _heads, kv_heads, head_dim = hf_params.attention_dims(cfg, sliding)
        layers.append(LayerKV(kv_heads, head_dim, head_dim, sliding, i < first_shared))
    per_expert = int(cfg.get("moe_intermediate_size") or 0)
    used = int(cfg.get("top_k_experts") or cfg.get("num_experts_per_tok") or 0)
    return ModelShape(
        name=str(
            cfg.get("_name_or_path")
            or (path.parent.name if path.name == "config.json" else path.stem)
        ),
        architecture=str(cfg["model_type"]),
        layers=tuple(layers),
        sliding_window=window,
        context_train=hf_params.need(cfg, "max_position_embeddings"),
        vocab_size=hf_params.need(cfg, "vocab_size"),
        hidden_size=hf_params.need(cfg, "hidden_size"),
        ffn_size=max(int(cfg.get("intermediate_size") or 0), used * per_expert),
        n_heads=hf_params.need(cfg, "num_attention_heads"),
        weights_bytes=weights,
        weights_note=note,
        params=params,
    )


def _weights(cfg: Mapping[str, Any], path: Path, quant: str | None) -> tuple[int, str, int | None]:
    inventory = hf_params.tensors(cfg)
    params = sum(t.params for t in inventory)
    files = sorted(path.parent.glob("*.safetensors"))
    if files and quant is None:
        return sum(_safetensors_bytes(f) for f in files), f"{len(files)} safetensors file(s)", None
    fmt, group = (quant, 128) if quant else _checkpoint_format(cfg)
    if fmt == "f32":
        return params * 4, "parameter count from config.json x 4 bytes (float32)", params
    note = f"parameter count from config.json ({params / 1e9:.2f} B) as {fmt}"
    return weight_bytes(inventory, fmt, group), note, params


def _checkpoint_format(cfg: Mapping[str, Any]) -> tuple[str, int]:
    qcfg = cfg.get("quantization_config")
    if isinstance(qcfg, dict):
        method = str(qcfg.get("quant_method", "")).lower()
        if method not in _QUANT_METHODS or (method != "fp8" and qcfg.get("bits", 4) != 4):
            raise ConfigError(f"quantization_config {method!r} is not one stratum fit can size")
        return _QUANT_METHODS[method], int(qcfg.get("group_size") or 128)
    dtype = str(cfg.get("torch_dtype") or cfg.get("dtype") or "bfloat16")
    size = TORCH_DTYPE_BYTES.get(dtype)
    if size is None:
        raise ConfigError(f"torch_dtype {dtype!r} is not one stratum fit knows")
    return {4: "f32", 2: "bf16", 1: "fp8"}[size], 128


def _safetensors_bytes(path: Path) -> int:
    """Bytes of the tensors in one safetensors file, from its header alone."""
    with path.open("rb") as f:
        prefix = f.read(8)
        size = struct.unpack("<Q", prefix)[0] if len(prefix) == 8 else -1
        if not 0 < size <= _MAX_HEADER:
            raise DataFileError(str(path), None, "not a safetensors file (bad header length)")
        try:
            header = json.loads(f.read(size))
        except (json.JSONDecodeError, UnicodeDecodeError):
            problem = "truncated or damaged safetensors header"
            raise DataFileError(str(path), None, problem) from None
    offsets = [v["data_offsets"] for k, v in header.items() if k != "__metadata__"]
    return sum(int(end) - int(begin) for begin, end in offsets)
