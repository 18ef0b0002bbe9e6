"""Reading GGUF files: the real Gemma 3 270M, and small files written with gguf's writer."""

from __future__ import annotations

from pathlib import Path

import pytest

from adaptive_router.errors import DataFileError
from adaptive_router.fit import load_model
from adaptive_router.fit.gguf_model import read_gguf
from tests.fit.conftest import write_gguf


def test_gemma3_270m_as_llama_cpp_loads_it(gemma_gguf: Path) -> None:
    shape = read_gguf(gemma_gguf)
    # llama-server -v: "file size = 235.16 MiB", "model params = 268.10 M", n_swa = 512,
    # layers 5, 11, 17 not sliding (is_swa = 0), 1 KV head of 256 values
    assert shape.weights_bytes == 246_587_904
    assert shape.params == 268_098_176
    assert shape.sliding_window == 512
    assert [i for i, layer in enumerate(shape.layers) if not layer.sliding] == [5, 11, 17]
    assert {(layer.kv_heads, layer.head_dim_k, layer.head_dim_v) for layer in shape.layers} == {
        (1, 256, 256)
    }
    assert (shape.vocab_size, shape.context_train, shape.hidden_size) == (262144, 32768, 640)


def test_per_layer_kv_heads_swa_array_and_shared_layers(tmp_path: Path) -> None:
    path = write_gguf(
        tmp_path / "g4.gguf",
        kv_heads=[4, 4, 1, 4, 4, 1],
        swa_pattern=[True, True, False, True, True, False],
        sliding_window=128,
        shared_kv_layers=2,
        key_length_swa=16,
    )
    shape = read_gguf(path)
    assert [layer.sliding for layer in shape.layers] == [True, True, False, True, True, False]
    assert [layer.kv_heads for layer in shape.layers] == [4, 4, 1, 4, 4, 1]
    assert [layer.head_dim_k for layer in shape.layers] == [16, 16, 32, 16, 16, 32]
    assert [layer.stores_kv for layer in shape.layers] == [True] * 4 + [False] * 2
    assert shape.weights_bytes == (100 * 64 + 6 * 128 * 64) * 4


def test_integer_pattern_makes_every_nth_layer_global(tmp_path: Path) -> None:
    shape = read_gguf(write_gguf(tmp_path / "p.gguf", swa_pattern=3, sliding_window=64))
    assert [layer.sliding for layer in shape.layers] == [True, True, False] * 2


def test_without_a_window_every_layer_is_global(tmp_path: Path) -> None:
    shape = read_gguf(write_gguf(tmp_path / "llama.gguf", arch="llama"))
    assert not any(layer.sliding for layer in shape.layers)
    assert shape.sliding_window == 0


def test_unknown_architecture_is_named(tmp_path: Path) -> None:
    path = write_gguf(tmp_path / "m.gguf", arch="mamba")
    with pytest.raises(DataFileError, match="architecture 'mamba' is not one stratum fit can size"):
        read_gguf(path)


def test_truncated_gguf_is_one_clear_error(tmp_path: Path) -> None:
    whole = write_gguf(tmp_path / "whole.gguf").read_bytes()
    for cut in (100, len(whole) // 2, len(whole) - 8):
        path = tmp_path / f"cut{cut}.gguf"
        path.write_bytes(whole[:cut])
        with pytest.raises(DataFileError, match="truncated or damaged GGUF file"):
            load_model(path)


def test_split_gguf_needs_every_part(tmp_path: Path) -> None:
    path = write_gguf(tmp_path / "m-00001-of-00002.gguf")
    with pytest.raises(DataFileError, match=r"part m-00002-of-00002\.gguf is missing"):
        read_gguf(path)
    second = write_gguf(tmp_path / "m-00002-of-00002.gguf")
    one_part = (100 * 64 + 6 * 128 * 64) * 4
    assert read_gguf(path).weights_bytes == read_gguf(second).weights_bytes == 2 * one_part
