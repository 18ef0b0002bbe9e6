"""Workloads: seeded reproducibility, composition, data-file errors."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from adaptive_router.bench.workloads import (
    MATH_TEMPLATE,
    WorkloadSpec,
    build_workload,
    default_data_dir,
    mixed_pools,
    read_jsonl,
    synthetic_prompt,
)
from adaptive_router.errors import DataFileError
from tests.conftest import SHARED_DATA

needs_data = pytest.mark.skipif(
    not (SHARED_DATA / "sharegpt_prompts.jsonl").exists(),
    reason=f"the shared data sets are not at {SHARED_DATA}",
)


def spec(kind: str, seed: int = 0, **kwargs: object) -> WorkloadSpec:
    return WorkloadSpec(kind, warmup=3, measured=100, seed=seed, data_dir=SHARED_DATA, **kwargs)  # type: ignore[arg-type]


@needs_data
@pytest.mark.parametrize("kind", ["sharegpt", "synthetic", "mixed"])
def test_same_seed_same_prompts_other_seed_other_prompts(kind: str) -> None:
    first, again, other = (build_workload(spec(kind, seed)) for seed in (1, 1, 2))
    assert first == again
    assert first.measured != other.measured
    assert (len(first.warmup), len(first.measured)) == (3, 100)


@needs_data
@pytest.mark.parametrize("share", [0.0, 0.3, 0.55, 1.0])
def test_mixed_composition_is_exact(share: float) -> None:
    workload = build_workload(spec("mixed", hard_share=share))
    hard = sum(p.kind == "hard" for p in workload.measured)
    assert hard == round(100 * share)
    assert {p.kind for p in workload.measured} <= {"easy", "hard"}


@needs_data
def test_mixed_pools() -> None:
    easy, hard = mixed_pools(SHARED_DATA, random.Random(0))
    assert all(len(p.text) <= 200 for p in easy)
    maths = [p for p in hard if p.id.startswith("math:")]
    code = [p for p in hard if p.id.startswith("sharegpt:")]
    assert len(maths) == 2 * len(code) > 0
    prefix = MATH_TEMPLATE.split("{", 1)[0]
    assert all(p.text.startswith(prefix) for p in maths)


@needs_data
def test_sharegpt_respects_max_prompt_chars() -> None:
    workload = build_workload(spec("sharegpt", max_prompt_chars=300))
    assert all(len(p.text) <= 300 for p in workload.measured)


def test_synthetic_prompt_has_the_asked_word_count() -> None:
    prompt = synthetic_prompt(random.Random(0), 256, 4)
    assert len(prompt.text.split()) == 256
    assert prompt.id == "synthetic:4"


def test_default_data_dir_is_beside_the_checkout() -> None:
    assert default_data_dir().parts[-2:] == ("shared", "data")


def test_bad_files_say_where(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"prompt": "ok"}\n{"prompt": \n')
    with pytest.raises(DataFileError, match=r"bad\.jsonl:2: not JSON"):
        read_jsonl(bad, "prompt")
    bad.write_text('{"text": "no prompt field"}\n')
    with pytest.raises(DataFileError, match=r':1: no string field "prompt"'):
        read_jsonl(bad, "prompt")
    with pytest.raises(DataFileError, match="cannot read it"):
        read_jsonl(tmp_path / "missing.jsonl", "prompt")
    with pytest.raises(DataFileError, match="cannot read it"):
        build_workload(WorkloadSpec("sharegpt", 0, 5, data_dir=tmp_path))
