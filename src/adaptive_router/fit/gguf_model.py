"""Read a GGUF file's shape with ``gguf`` (llama.cpp's own reader): hyperparameters and tensors.

The weights are the sum of the tensor sizes (what llama.cpp logs as ``file size``); the cache
geometry follows llama.cpp's hyperparameter loading: per-layer KV heads, separate head sizes
for sliding-window layers (``key_length_swa``), the sliding layers from
``attention.sliding_window_pattern`` (a per-layer array, or every n-th layer global) or, for
Gemma 2 and 3 whose files carry no pattern, the pattern llama.cpp hard-codes (2 and 6), and
the layers that reuse an earlier cache (``attention.shared_kv_layers``).

    >>> shape = read_gguf(Path("gemma-3-270m-q4_k_m.gguf"))  # doctest: +SKIP
    >>> shape.weights_bytes
    246587904
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from adaptive_router.errors import DataFileError
from adaptive_router.fit.shape import LayerKV, ModelShape

GGUF_MAGIC = b"GGUF"
# Attention-only decoders whose cache llama.cpp builds from the keys read here. Recurrent and
# hybrid models (Mamba, RWKV, Jamba, Qwen3-Next) and MLA caches (DeepSeek) keep other state.
KNOWN_ARCHITECTURES = frozenset(
    {"llama", "mistral3", "qwen2", "qwen2moe", "qwen3", "qwen3moe", "phi3", "gemma"}
    | {"gemma2", "gemma3", "gemma4", "gemma-embedding", "granite", "granitemoe", "olmo2"}
    | {"starcoder2", "stablelm", "internlm2", "command-r"}
)
_HARD_CODED_PATTERN = {"gemma2": 2, "gemma3": 6, "gemma-embedding": 6}
_SPLIT = re.compile(r"-(\d{5})-of-(\d{5})\.gguf$")


def is_gguf(path: Path) -> bool:
    """Whether the file starts with the GGUF magic."""
    with path.open("rb") as f:
        return f.read(4) == GGUF_MAGIC


def read_gguf(path: Path) -> ModelShape:
    """The shape of the model in ``path`` (any part of a split GGUF reads them all)."""
    match = _SPLIT.search(path.name)
    if match is not None and int(match.group(1)) != 1:
        path = path.with_name(_SPLIT.sub(f"-00001-of-{match.group(2)}.gguf", path.name))
    reader = _open(path)
    fields = _Fields(reader, path)
    arch = fields.text("general.architecture")
    if arch not in KNOWN_ARCHITECTURES:
        raise DataFileError(
            str(path), None, f"architecture {arch!r} is not one stratum fit can size "
            f"(attention-only decoders: {', '.join(sorted(KNOWN_ARCHITECTURES))})"
        )  # fmt: skip
    tensors = [t for part in _parts(path, reader) for t in part.tensors]
    weights = sum(int(t.n_bytes) for t in tensors)
    return ModelShape(
        name=str(fields.get("general.name", path.stem)),
        architecture=arch,
        layers=_layers(fields, arch),
        sliding_window=int(fields.get(f"{arch}.attention.sliding_window", 0) or 0),
        context_train=fields.number(f"{arch}.context_length"),
        vocab_size=_vocab_size(fields, arch),
        hidden_size=fields.number(f"{arch}.embedding_length"),
        ffn_size=_ffn_width(fields, arch),
        n_heads=max(fields.per_layer(f"{arch}.attention.head_count", 1)),
        weights_bytes=weights,
        weights_note="GGUF tensor sizes (llama.cpp's 'file size')",
        params=sum(int(t.n_elements) for t in tensors),
    )


def _open(path: Path) -> Any:
    if not is_gguf(path):
        raise DataFileError(str(path), None, "not a GGUF file (no GGUF magic)")
    try:
        try:
            return _reader_class()(path)
        except (AttributeError, TypeError):  # a gguf whose reader internals changed
            from gguf import GGUFReader

            return GGUFReader(path)
    except (ValueError, IndexError, OSError):
        raise DataFileError(
            str(path), None, "truncated or damaged GGUF file: its tensor table or data end early"
        ) from None


def _reader_class() -> Any:
    """gguf's GGUFReader, reading metadata arrays in one step instead of value by value.

    The stock reader builds a numpy view per array element: the 262,144-entry vocabulary of a
    Gemma file takes it about 10 s on two cores. Arrays of numbers are read here as one view
    and arrays of strings are stepped over (only their length is kept): 0.2 s.
    """
    import numpy as np  # heavy: imported only when a GGUF is read
    from gguf import GGUFReader, GGUFValueType

    class FastReader(GGUFReader):
        def _get_field_parts(self, orig_offs: int, raw_type: int) -> Any:
            if GGUFValueType(raw_type) != GGUFValueType.ARRAY or self.byte_order != "I":
                return super()._get_field_parts(orig_offs, raw_type)
            item_type = self._get(orig_offs, np.uint32)
            length = self._get(orig_offs + 4, np.uint64)
            offs, count = orig_offs + 12, int(length[0])
            types = [GGUFValueType.ARRAY, GGUFValueType(int(item_type[0]))]
            scalar = self.gguf_scalar_to_np.get(types[1])
            if scalar is not None:
                values = self._get(offs, scalar, count)
                if len(values) != count:
                    raise ValueError("array runs past the end of the file")
                size = offs + int(values.nbytes) - orig_offs
                return size, [item_type, length, values], [2], types
            if types[1] != GGUFValueType.STRING:
                return super()._get_field_parts(orig_offs, raw_type)
            raw = self.data.data  # the memory map as a memoryview: no copy
            for _ in range(count):
                offs += 8 + int.from_bytes(raw[offs : offs + 8], "little")
            if offs > len(raw):
                raise ValueError("string array runs past the end of the file")
            return offs - orig_offs, [item_type, length], [], types

    return FastReader


def _parts(path: Path, first: Any) -> list[Any]:
    match = _SPLIT.search(path.name)
    if match is None or int(match.group(2)) == 1:
        return [first]
    count = int(match.group(2))
    names = [_SPLIT.sub(f"-{i:05d}-of-{count:05d}.gguf", path.name) for i in range(1, count + 1)]
    missing = [n for n in names if not (path.parent / n).is_file()]
    if missing:
        raise DataFileError(str(path), None, f"split GGUF: part {missing[0]} is missing")
    return [first if n == path.name else _open(path.parent / n) for n in names]


def _layers(fields: _Fields, arch: str) -> tuple[LayerKV, ...]:
    n_layers = fields.number(f"{arch}.block_count")
    heads = fields.per_layer(f"{arch}.attention.head_count", n_layers)
    kv_heads = fields.per_layer(f"{arch}.attention.head_count_kv", n_layers, heads)
    embd = fields.number(f"{arch}.embedding_length")
    k_full = int(fields.get(f"{arch}.attention.key_length", embd // max(heads)))
    v_full = int(fields.get(f"{arch}.attention.value_length", k_full))
    k_swa = int(fields.get(f"{arch}.attention.key_length_swa", k_full))
    v_swa = int(fields.get(f"{arch}.attention.value_length_swa", v_full))
    sliding = _sliding_layers(fields, arch, n_layers)
    first_shared = n_layers - int(fields.get(f"{arch}.attention.shared_kv_layers", 0) or 0)
    return tuple(
        LayerKV(
            kv_heads=kv_heads[i],
            head_dim_k=k_swa if sliding[i] else k_full,
            head_dim_v=v_swa if sliding[i] else v_full,
            sliding=sliding[i],
            stores_kv=i < first_shared and kv_heads[i] > 0,
        )
        for i in range(n_layers)
    )


def _sliding_layers(fields: _Fields, arch: str, n_layers: int) -> list[bool]:
    if not fields.get(f"{arch}.attention.sliding_window", 0):
        return [False] * n_layers
    pattern = fields.get(f"{arch}.attention.sliding_window_pattern")
    if isinstance(pattern, list):
        if len(pattern) != n_layers:
            raise fields.bad(f"sliding_window_pattern has {len(pattern)} entries, not {n_layers}")
        return [bool(x) for x in pattern]
    every = int(pattern) if pattern is not None else _HARD_CODED_PATTERN.get(arch, 0)
    # llama_hparams::set_swa_pattern: every n-th layer is global; 0 or none: all global
    return [every > 1 and i % every < every - 1 for i in range(n_layers)]


def _vocab_size(fields: _Fields, arch: str) -> int:
    vocab = fields.get(f"{arch}.vocab_size")
    if vocab is None:
        vocab = fields.count("tokenizer.ggml.tokens")
    return int(vocab)


def _ffn_width(fields: _Fields, arch: str) -> int:
    dense = max(fields.per_layer(f"{arch}.feed_forward_length", 1, [0]))
    used = int(fields.get(f"{arch}.expert_used_count", 0) or 0)
    per_expert = int(fields.get(f"{arch}.expert_feed_forward_length", 0) or 0)
    return max(dense, used * per_expert)


class _Fields:
    """Typed access to a GGUF's key-value metadata, with errors that name the file."""

    def __init__(self, reader: Any, path: Path) -> None:
        self._fields = reader.fields
        self._path = path

    def bad(self, problem: str) -> DataFileError:
        return DataFileError(str(self._path), None, problem)

    def get(self, key: str, default: Any = None) -> Any:
        field = self._fields.get(key)
        return default if field is None else field.contents()

    def count(self, key: str) -> int:
        """The length of an array field (its fourth part: item type, then length)."""
        field = self._fields.get(key)
        if field is None:
            raise self.bad(f"no {key} and no vocab_size: cannot tell the vocabulary size")
        return int(field.parts[4][0])

    def text(self, key: str) -> str:
        value = self.get(key)
        if not isinstance(value, str):
            raise self.bad(f"missing {key}")
        return value

    def number(self, key: str) -> int:
        value = self.get(key)
        if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
            raise self.bad(f"missing or invalid {key}: {value!r}")
        return value

    def per_layer(self, key: str, n_layers: int, default: list[int] | None = None) -> list[int]:
        """A value that may be one number for every layer or an array of one per layer."""
        value = self.get(key)
        if value is None:
            if default is None:
                raise self.bad(f"missing {key}")
            return default if len(default) == n_layers else default * n_layers
        if isinstance(value, list):
            if len(value) != n_layers and n_layers > 1:
                raise self.bad(f"{key} has {len(value)} entries, not {n_layers}")
            return [int(x) for x in value]
        return [int(value)] * n_layers
