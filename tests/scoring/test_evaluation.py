import json
import random
from collections.abc import Sequence
from importlib.resources import as_file
from pathlib import Path

import pytest
from click.testing import CliRunner

from adaptive_router.cli import main
from adaptive_router.data import ARENA_FILE, bundled
from adaptive_router.errors import DataFileError
from adaptive_router.scoring.evaluation import (
    Example,
    apgr,
    load_outcomes,
    pgr_curve,
    spearman,
    threshold_for_share,
)


def write_lines(path: Path, lines: Sequence[object]) -> Path:
    path.write_text(
        "\n".join(line if isinstance(line, str) else json.dumps(line) for line in lines) + "\n",
        encoding="utf-8",
    )
    return path


def row(prompt: str, **scores: object) -> dict[str, object]:
    return {"prompt": prompt, "judge_scores": scores}


# -- load_outcomes ---------------------------------------------------------------------------


def test_load_outcomes_reads_scores_over_ten(tmp_path: Path) -> None:
    path = write_lines(
        tmp_path / "j.jsonl", [row("a", weak=3, strong=9), "", row("b", weak=10, strong=7.5)]
    )
    examples = load_outcomes(path, "weak", "strong")
    assert examples == [Example("a", 0.3, 0.9), Example("b", 1.0, 0.75)]
    with pytest.raises(AttributeError):
        examples[0].weak = 1.0  # type: ignore[misc]


def test_lines_without_one_of_the_models_are_skipped(tmp_path: Path) -> None:
    lines = [row("a", weak=3, strong=9), row("b", strong=7, other=1), row("c", weak=2, strong=8)]
    examples = load_outcomes(write_lines(tmp_path / "j.jsonl", lines), "weak", "strong")
    assert [e.prompt for e in examples] == ["a", "c"]


def test_unknown_model_lists_the_models_in_the_file(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "j.jsonl", [row("a", weak=3, strong=9, extra=1)])
    with pytest.raises(DataFileError) as info:
        load_outcomes(path, "nobody", "strong")
    message = str(info.value)
    assert "'nobody'" in message
    assert "extra, strong, weak" in message
    assert info.value.path == str(path)
    assert info.value.line is None


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ("{not json", "invalid JSON"),
        ("[1, 2]", "JSON object"),
        (json.dumps({"judge_scores": {"weak": 1, "strong": 2}}), '"prompt"'),
        (json.dumps({"prompt": 5, "judge_scores": {"weak": 1, "strong": 2}}), '"prompt"'),
        (json.dumps({"prompt": "p"}), '"judge_scores"'),
        (json.dumps({"prompt": "p", "judge_scores": [1, 2]}), '"judge_scores"'),
        (json.dumps(row("p", weak="high", strong=2)), "not a number"),
        (json.dumps(row("p", weak=None, strong=2)), "not a number"),
        (json.dumps(row("p", weak=True, strong=2)), "not a number"),
        ('{"prompt": "p", "judge_scores": {"weak": NaN, "strong": 2}}', "not a number"),
    ],
)
def test_bad_lines_name_the_file_line_and_problem(tmp_path: Path, line: str, problem: str) -> None:
    path = write_lines(tmp_path / "j.jsonl", [row("ok", weak=1, strong=2), line])
    with pytest.raises(DataFileError, match=problem) as info:
        load_outcomes(path, "weak", "strong")
    assert info.value.line == 2
    assert str(info.value).startswith(f"{path}:2: ")


def test_an_unknown_model_is_reported_before_a_bad_line(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "j.jsonl", [row("a", weak=3, strong=9), "{oops"])
    with pytest.raises(DataFileError, match="'wek' is not scored; the file has: strong, weak"):
        load_outcomes(path, "wek", "strong")
    only_bad = write_lines(tmp_path / "bad.jsonl", ["{oops", "[]"])
    with pytest.raises(DataFileError, match="invalid JSON") as info:
        load_outcomes(only_bad, "wek", "strong")  # nothing readable: the line is the news
    assert info.value.line == 1


def test_missing_empty_and_undecodable_files(tmp_path: Path) -> None:
    with pytest.raises(DataFileError, match="cannot read"):
        load_outcomes(tmp_path / "absent.jsonl", "weak", "strong")
    with pytest.raises(DataFileError, match="no examples"):
        load_outcomes(write_lines(tmp_path / "blank.jsonl", ["", "  "]), "weak", "strong")
    binary = tmp_path / "bin.jsonl"
    binary.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(DataFileError, match="cannot read"):
        load_outcomes(binary, "weak", "strong")
    with pytest.raises(DataFileError, match="cannot read"):
        load_outcomes(tmp_path, "weak", "strong")  # a directory


def test_no_line_with_both_models_is_an_error(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "j.jsonl", [row("a", weak=1), row("b", strong=2)])
    with pytest.raises(DataFileError, match="no line scores both"):
        load_outcomes(path, "weak", "strong")


def test_bundled_arena_file_loads() -> None:
    with as_file(bundled() / ARENA_FILE) as path:
        examples = load_outcomes(path, "Mistral-7B-Instruct-v0.1", "gpt-4-turbo")
    assert len(examples) == 295  # 300 prompts, 5 not judged for one of the two models
    assert all(0.0 <= e.weak <= 1.0 and 0.0 <= e.strong <= 1.0 for e in examples)


# -- pgr_curve / apgr ------------------------------------------------------------------------

EXAMPLES = [
    Example("hard", 0.1, 0.9),  # gap 0.8
    Example("medium", 0.5, 0.7),  # gap 0.2
    Example("easy", 0.8, 0.8),  # gap 0
    Example("worse", 0.9, 0.7),  # the strong model does worse
]


def test_curve_has_101_points_from_zero_to_one() -> None:
    curve = pgr_curve([0.9, 0.5, 0.2, 0.1], EXAMPLES)
    assert len(curve) == 101
    assert curve[0] == 0.0
    assert curve[100] == pytest.approx(1.0)
    assert curve[25] == pytest.approx(0.8 / 0.8)  # 1 of 4 prompts: the whole 0.8 gap of 0.8
    assert max(curve) == pytest.approx(1.25)  # oracle routing overshoots before "worse"


def test_apgr_orders_oracle_random_and_reverse() -> None:
    gaps = [e.strong - e.weak for e in EXAMPLES]
    oracle = apgr(gaps, EXAMPLES)
    reverse = apgr([-g for g in gaps], EXAMPLES)
    assert oracle > 0.5 > reverse
    rng = random.Random(0)
    many = [Example(str(i), rng.random(), rng.random() + 0.3) for i in range(400)]
    mean_random = sum(apgr([rng.random() for _ in many], many) for _ in range(20)) / 20
    assert mean_random == pytest.approx(0.5, abs=0.03)


def test_ties_keep_input_order() -> None:
    first_hard = [Example("h", 0.0, 1.0), Example("e", 0.5, 0.5)]
    first_easy = list(reversed(first_hard))
    assert pgr_curve([0.5, 0.5], first_hard)[50] == 1.0
    assert pgr_curve([0.5, 0.5], first_easy)[50] == 0.0


def test_k_percent_rounds_half_up() -> None:
    examples = [Example(str(i), 0.0, 1.0) for i in range(3)]
    curve = pgr_curve([3, 2, 1], examples)
    assert curve[50] == pytest.approx(2 / 3)  # 1.5 prompts -> 2
    assert curve[16] == 0.0
    assert curve[17] == pytest.approx(1 / 3)


def test_equal_means_and_bad_input_raise() -> None:
    same = [Example("a", 0.2, 0.8), Example("b", 0.8, 0.2)]
    with pytest.raises(ValueError, match="same mean outcome"):
        apgr([1, 0], same)
    with pytest.raises(ValueError, match="2 scores for 4 examples"):
        apgr([1, 0], EXAMPLES)
    with pytest.raises(ValueError, match="no examples"):
        pgr_curve([], [])
    with pytest.raises(ValueError, match="finite"):
        apgr([float("nan"), 0, 0, 0], EXAMPLES)


# -- threshold_for_share ---------------------------------------------------------------------


@pytest.mark.parametrize("share", [0.0, 0.1, 0.25, 0.5, 0.9, 1.0])
def test_threshold_sends_the_share(share: float) -> None:
    scores = [i / 100 for i in range(100)]
    threshold = threshold_for_share(scores, share)
    assert sum(s >= threshold for s in scores) == round(share * 100)


def test_threshold_with_ties_comes_as_close_as_it_can() -> None:
    scores = [0.9, 0.5, 0.5, 0.5, 0.1]
    assert threshold_for_share(scores, 0.4) > 0.5  # 1 sent (off by 1) beats 4 sent (off by 2)
    assert threshold_for_share(scores, 0.6) == 0.5  # 4 sent (off by 1) beats 1 (off by 2)
    assert threshold_for_share(scores, 0.0) > 0.9


@pytest.mark.parametrize("share", [-0.1, 1.5, float("nan")])
def test_threshold_rejects_shares_outside_zero_one(share: float) -> None:
    with pytest.raises(ValueError, match="share must be in"):
        threshold_for_share([0.1, 0.2], share)


def test_threshold_needs_scores() -> None:
    with pytest.raises(ValueError, match="no scores"):
        threshold_for_share([], 0.5)


# -- spearman --------------------------------------------------------------------------------


def test_spearman_perfect_inverse_and_ties() -> None:
    assert spearman([1, 2, 3], [10, 20, 30]) == pytest.approx(1.0)
    assert spearman([1, 2, 3], [3, 2, 1]) == pytest.approx(-1.0)
    # values from scipy.stats.spearmanr, which also gives ties their average rank
    assert spearman([1, 2, 3, 4, 5], [1, 2, 2, 2, 3]) == pytest.approx(0.8944271909999157)
    x, y = [3, 1, 2, 5, 4, 4], [0.5, 0.1, 0.1, 0.9, 0.3, 0.7]
    assert spearman(x, y) == pytest.approx(0.8823529411764706)


def test_spearman_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="differ in length"):
        spearman([1, 2], [1])
    with pytest.raises(ValueError, match="at least two"):
        spearman([1], [1])
    with pytest.raises(ValueError, match="constant"):
        spearman([1, 1, 1], [1, 2, 3])


# -- stratum eval ----------------------------------------------------------------------------


def test_eval_without_file_uses_the_bundled_set(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # no ../shared: the set comes from the installed package
    result = CliRunner().invoke(main, ["eval", "--target-high-share", "0.1"])
    assert result.exit_code == 0, result.output
    assert "bundled arena-bench-v1 (the scorer's dev set)" in result.output
    assert "prompts:  295   weak: Mistral-7B-Instruct-v0.1   strong: gpt-4-turbo" in result.output
    assert float(result.output.split("APGR:")[1].split()[0]) > 0.5


def test_eval_with_a_file_needs_both_models(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "j.jsonl", [row("a", weak=3, strong=9)])
    result = CliRunner().invoke(main, ["eval", str(path), "--weak", "weak"])
    assert result.exit_code == 2
    assert "with FILE, give --weak and --strong" in result.output


def test_eval_help_says_the_bundled_set_is_the_dev_set() -> None:
    result = CliRunner().invoke(main, ["eval", "--help"])
    text = " ".join(result.output.split())
    assert "Without FILE it evaluates on the bundled arena-bench-v1 set" in text
    assert "not a held-out one" in text
    assert "[default without FILE: Mistral-7B-Instruct-v0.1]" in text
