"""Workloads: seeded reproducibility, composition, data-file errors."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from adaptive_router.bench.workloads import (
    MATH_TEMPLATE,
    WorkloadSpec,
    build_workload,
    math_prompts,
    mixed_pools,
    read_jsonl,
    sharegpt_prompts,
    synthetic_prompt,
)
from adaptive_router.data import MATH_FILE, SHAREGPT_FILE, bundled
from adaptive_router.errors import DataFileError
from tests.conftest import SHARED_DATA


def spec(kind: str, seed: int = 0, **kwargs: object) -> WorkloadSpec:
    """A workload on the data bundled with the package (no data_dir)."""
    return WorkloadSpec(kind, warmup=3, measured=100, seed=seed, **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize("kind", ["sharegpt", "synthetic", "mixed"])
def test_same_seed_same_prompts_other_seed_other_prompts(kind: str) -> None:
    first, again, other = (build_workload(spec(kind, seed)) for seed in (1, 1, 2))
    assert first == again
    assert first.measured != other.measured
    assert (len(first.warmup), len(first.measured)) == (3, 100)


@pytest.mark.parametrize("share", [0.0, 0.3, 0.55, 1.0])
def test_mixed_composition_is_exact(share: float) -> None:
    workload = build_workload(spec("mixed", hard_share=share))
    hard = sum(p.kind == "hard" for p in workload.measured)
    assert hard == round(100 * share)
    assert {p.kind for p in workload.measured} <= {"easy", "hard"}


def test_mixed_pools() -> None:
    easy, hard = mixed_pools(bundled(), random.Random(0))
    assert all(len(p.text) <= 200 for p in easy)
    maths = [p for p in hard if p.id.startswith("math:")]
    code = [p for p in hard if p.id.startswith("sharegpt:")]
    assert len(maths) == 2 * len(code) > 0
    prefix = MATH_TEMPLATE.split("{", 1)[0]
    assert all(p.text.startswith(prefix) for p in maths)


def test_sharegpt_respects_max_prompt_chars() -> None:
    workload = build_workload(spec("sharegpt", max_prompt_chars=300))
    assert all(len(p.text) <= 300 for p in workload.measured)


def test_synthetic_prompt_has_the_asked_word_count() -> None:
    prompt = synthetic_prompt(random.Random(0), 256, 4)
    assert len(prompt.text.split()) == 256
    assert prompt.id == "synthetic:4"


def test_bundled_data_needs_no_checkout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # nothing beside the working directory
    workload = build_workload(spec("mixed", hard_share=0.5))
    assert {p.kind for p in workload.measured} == {"easy", "hard"}
    easy, hard = mixed_pools(bundled(), random.Random(0))
    assert len(easy) >= 100
    assert sum(p.id.startswith("sharegpt:") for p in hard) >= 30  # code/reasoning asks
    assert len(sharegpt_prompts(bundled())) == 300


def test_data_dir_reads_the_users_own_files(tmp_path: Path) -> None:
    (tmp_path / "sharegpt_prompts.jsonl").write_text('{"id": "x", "prompt": "my prompt"}\n')
    workload = build_workload(WorkloadSpec("sharegpt", 1, 2, data_dir=tmp_path))
    assert [p.text for p in workload.measured] == ["my prompt", "my prompt"]
    assert workload.warmup[0].id == "sharegpt:x"


@pytest.mark.skipif(
    not (SHARED_DATA / MATH_FILE).exists(), reason=f"the shared data sets are not at {SHARED_DATA}"
)
def test_bundled_files_are_the_documented_draw_from_the_dev_data() -> None:
    """data/README.md: the first 300 ShareGPT lines; the first 200 level-5 MATH problems of
    at most 600 characters."""
    shared = (SHARED_DATA / SHAREGPT_FILE).read_bytes().splitlines(keepends=True)
    assert (bundled() / SHAREGPT_FILE).read_bytes() == b"".join(shared[:300])
    assert len(math_prompts(bundled())) == 200
    all_level5 = [p.text for p in math_prompts(SHARED_DATA)]
    assert [p.text for p in math_prompts(bundled())] == all_level5[:200]


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
