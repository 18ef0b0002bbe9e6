"""``stratum up``'s fit check: a warning when the engines will not fit, a refusal with strict."""

from __future__ import annotations

from pathlib import Path

import pytest

from adaptive_router.errors import StackError
from adaptive_router.fit import Gpu
from adaptive_router.fit.memory import GiB
from adaptive_router.stack.config import StackConfig
from adaptive_router.stack.fit_check import check_stack_fits, engine_options
from adaptive_router.stack.llama import LlamaServerSpec
from tests.conftest import FakeNVML


def engines(model: Path) -> list[tuple[str, LlamaServerSpec]]:
    return [
        ("tier_low", LlamaServerSpec(model, 8081, parallel=4, ctx_size=4096)),
        ("tier_high", LlamaServerSpec(model, 8082, parallel=1, ctx_size=16384)),
    ]


def test_engine_flags_become_fit_options(tmp_path: Path) -> None:
    spec = LlamaServerSpec(
        tmp_path / "m.gguf", 1, parallel=2, ctx_size=8192,
        extra_args=("-ngl", "99", "-ctk", "q8_0", "-ctv", "q8_0", "--swa-full", "-ub", "256"),
    )  # fmt: skip
    options = engine_options(spec)
    assert (options.ctx, options.parallel, options.kv_dtype, options.ubatch) == (
        8192,
        2,
        "q8_0",
        256,
    )
    assert options.swa_full
    assert not options.kv_unified


def test_fits_on_a_big_enough_gpu(gemma_gguf: Path) -> None:
    lines: list[str] = []
    result = check_stack_fits(
        engines(gemma_gguf), False, lines.append, nvml=FakeNVML({0: (8.0, 16.0, 0.0)})
    )
    assert result.fits is True
    assert result.gpu is not None
    assert result.gpu.free_bytes == 8 * GiB
    assert lines == [result.message]
    assert lines[0].endswith(": fits")
    assert [name for name, _ in result.needs] == ["tier_low", "tier_high"]


def test_warns_when_it_will_not_fit(gemma_gguf: Path) -> None:
    lines: list[str] = []
    small = Gpu(GiB, GiB // 4, "injected")
    result = check_stack_fits(engines(gemma_gguf), False, lines.append, gpu=small)
    assert result.fits is False
    assert result.needed_bytes > small.free_bytes
    assert lines[0].startswith("warning: fit check: the engines need ")
    assert "but only 0.25 GiB free (injected): will not fit" in lines[0]


def test_strict_refuses(gemma_gguf: Path) -> None:
    with pytest.raises(StackError, match=r"will not fit .*--strict: not starting"):
        check_stack_fits(engines(gemma_gguf), True, print, gpu=Gpu(GiB, GiB // 4, "injected"))


def test_no_nvml_means_unknown_never_a_number(gemma_gguf: Path) -> None:
    broken = FakeNVML({0: (8.0, 16.0, 0.0)})
    broken.fail_init = True
    lines: list[str] = []
    result = check_stack_fits(engines(gemma_gguf), True, lines.append, nvml=broken)
    assert result.fits is None
    assert result.gpu is None
    assert "GPU unknown: NVML unavailable: Driver Not Loaded" in lines[0]


def test_a_model_it_cannot_size_skips_the_check(tmp_path: Path) -> None:
    lines: list[str] = []
    bad = tmp_path / "not-a-model.gguf"
    bad.write_text("hello")
    result = check_stack_fits([("tier_low", LlamaServerSpec(bad, 1))], True, lines.append)
    assert result.fits is None
    assert lines[0].startswith("fit check skipped: ")


def test_strict_is_a_stack_setting() -> None:
    assert StackConfig().strict is False
    assert StackConfig(strict=True).strict is True


def test_every_stack_setting_is_documented() -> None:
    from adaptive_router.settings.files import setting_docs

    doc = (Path(__file__).resolve().parents[2] / "docs" / "configuration.md").read_text()
    for name, env, default, _help in setting_docs(StackConfig):
        row = next((line for line in doc.splitlines() if line.startswith(f"| `{name}` ")), None)
        assert row is not None, f"{name} missing from docs/configuration.md"
        assert f"`{env}`" in row
        assert f"`{default}`" in row
