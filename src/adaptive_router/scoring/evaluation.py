"""Routing-quality evaluation: judged prompts in, APGR (and friends) out.

A judged file is JSONL, one prompt per line::

    {"prompt": "...", "judge_scores": {"model-a": 7, "model-b": 9}}

:func:`load_outcomes` turns it into :class:`Example` rows (outcome = judge score / 10) for a
chosen weak and strong model. :func:`apgr` measures how well scores rank the prompts that
need the strong model: send the top k% by score to it, k = 0, 1, ..., 100; PGR(k) is the
share of the weak-to-strong quality gap recovered; APGR is the mean over k. Random routing
scores 0.5. This is RouteLLM's metric (lm-sys/RouteLLM, arXiv 2406.18665).

    >>> examples = [Example("hard", 0.1, 0.9), Example("easy", 0.8, 0.8)]
    >>> apgr([0.9, 0.1], examples) > apgr([0.1, 0.9], examples)
    True
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from adaptive_router.errors import DataFileError

__all__ = ["Example", "apgr", "load_outcomes", "pgr_curve", "spearman", "threshold_for_share"]

CURVE_POINTS = 101  # k = 0, 1, ..., 100 percent of prompts sent to the strong model


@dataclass(frozen=True, slots=True)
class Example:
    """One judged prompt: its text and the weak and strong model's outcomes in [0, 1]."""

    prompt: str
    weak: float
    strong: float


def load_outcomes(path: str | os.PathLike[str], weak: str, strong: str) -> list[Example]:
    """Read a judged JSONL file into examples for the ``weak`` and ``strong`` models.

    Outcome = judge score / 10. Blank lines are skipped. A line that has no score for
    ``weak`` or ``strong`` is skipped too, as long as the model is scored on some other
    line (arena_bench_v1 leaves a few prompts unjudged for some models). Every problem
    raises :class:`~adaptive_router.errors.DataFileError` naming the file and, where there
    is one, the line. A model that no readable line scores is reported first, listing the
    models the file has (it is usually a typo on the command line); then the first bad line.

    >>> examples = load_outcomes("arena.jsonl", "Mistral-7B-Instruct-v0.1", "gpt-4-turbo")
    ... # doctest: +SKIP
    """
    name = os.fspath(path)
    rows, first_problem = _read_rows(name)
    models = {model for _, row in rows for model in row["judge_scores"]}
    for model in (weak, strong):
        if rows and model not in models:
            known = ", ".join(sorted(models))
            raise DataFileError(name, None, f"model {model!r} is not scored; the file has: {known}")
    if first_problem is not None:
        raise first_problem
    if not rows:
        raise DataFileError(name, None, "the file has no examples")
    examples = []
    for line, row in rows:
        scores = row["judge_scores"]
        if weak in scores and strong in scores:
            outcomes = (_outcome(name, line, scores, weak), _outcome(name, line, scores, strong))
            examples.append(Example(row["prompt"], *outcomes))
    if not examples:
        raise DataFileError(name, None, f"no line scores both {weak!r} and {strong!r}")
    return examples


def _read_rows(path: str) -> tuple[list[tuple[int, dict[str, Any]]], DataFileError | None]:
    """(line number, row) for each good non-blank line, and the first bad line's error."""
    try:
        with open(path, encoding="utf-8") as f:
            lines = f.readlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise DataFileError(path, None, f"cannot read the file: {exc}") from exc
    rows = []
    first_problem = None
    for number, text in enumerate(lines, start=1):
        if not text.strip():
            continue
        problem = _parse_row(text)
        if isinstance(problem, str):
            first_problem = first_problem or DataFileError(path, number, problem)
        else:
            rows.append((number, problem))
    return rows, first_problem


def _parse_row(text: str) -> dict[str, Any] | str:
    """The parsed row, or what is wrong with it."""
    try:
        row = json.loads(text)
    except json.JSONDecodeError as exc:
        return f"invalid JSON: {exc.msg}"
    if not isinstance(row, dict):
        return "each line must be a JSON object"
    if not isinstance(row.get("prompt"), str):
        return 'missing "prompt" (a string)'
    if not isinstance(row.get("judge_scores"), dict):
        return 'missing "judge_scores" (an object)'
    return row


def _outcome(path: str, line: int, scores: dict[str, Any], model: str) -> float:
    value = scores[model]
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise DataFileError(path, line, f"score of {model!r} is not a number: {value!r}")
    return value / 10


def pgr_curve(scores: Sequence[float], examples: Sequence[Example]) -> list[float]:
    """PGR(k) for k = 0..100: the share of the quality gap recovered by routing the top k%.

    The top ``round(k * n / 100)`` prompts (halves round up) by score go to the strong
    model. Ties keep input order: of equal scores, the earlier prompt goes first, so the
    curve is deterministic.

    >>> pgr_curve([1.0, 0.0], [Example("a", 0.0, 1.0), Example("b", 0.5, 0.5)])[100]
    1.0
    """
    n = _check_pairs(scores, examples)
    weak_sum = math.fsum(e.weak for e in examples)
    strong_sum = math.fsum(e.strong for e in examples)
    if abs(strong_sum - weak_sum) <= 1e-12 * n:
        raise ValueError("the strong and weak models have the same mean outcome: PGR is undefined")
    order = sorted(range(n), key=lambda i: -scores[i])  # sorted() is stable: ties in order
    gained = [0.0]
    for i in order:
        gained.append(gained[-1] + examples[i].strong - examples[i].weak)
    gap = strong_sum - weak_sum
    return [gained[(k * n + 50) // 100] / gap for k in range(CURVE_POINTS)]


def apgr(scores: Sequence[float], examples: Sequence[Example]) -> float:
    """Average PGR over k = 0..100 (see :func:`pgr_curve`); random routing gets about 0.5.

    >>> examples = [Example("hard", 0.1, 0.9), Example("easy", 0.8, 0.8)]
    >>> round(apgr([0.9, 0.1], examples), 3), round(apgr([0.1, 0.9], examples), 3)
    (0.752, 0.257)
    """
    return math.fsum(pgr_curve(scores, examples)) / CURVE_POINTS


def threshold_for_share(scores: Sequence[float], share: float) -> float:
    """The threshold with which ``score >= threshold`` sends about ``share`` of prompts high.

    ``share`` is in [0, 1]. When ties make the exact share impossible, the threshold that
    comes closest wins (the smaller share on a draw). For share 0 the threshold lies just
    above the highest score.

    >>> threshold_for_share([0.1, 0.2, 0.3, 0.4], 0.5)
    0.3
    """
    if not 0.0 <= share <= 1.0 or math.isnan(share):
        raise ValueError(f"share must be in [0, 1], not {share!r}")
    if not scores:
        raise ValueError("no scores to choose a threshold from")
    ranked = sorted(scores, reverse=True)
    n = len(ranked)
    want = math.floor(share * n + 0.5)  # round half up: share 0.5 of 3 prompts -> 2
    if want == 0:
        return math.nextafter(ranked[0], math.inf)
    at = ranked[want - 1]
    above = math.nextafter(at, math.inf)
    sent_at = sum(s >= at for s in ranked)
    sent_above = sum(s >= above for s in ranked)
    return at if sent_at - want < want - sent_above else above


def spearman(x: Sequence[float], y: Sequence[float]) -> float:
    """Spearman rank correlation of ``x`` and ``y``; tied values share their average rank.

    >>> spearman([1, 2, 3, 4], [10, 20, 20, 40])
    0.9486832980505138
    """
    if len(x) != len(y):
        raise ValueError(f"x and y differ in length: {len(x)} != {len(y)}")
    if len(x) < 2:
        raise ValueError("spearman needs at least two pairs")
    rx, ry = _ranks(x), _ranks(y)
    mx, my = math.fsum(rx) / len(rx), math.fsum(ry) / len(ry)
    cov = math.fsum((a - mx) * (b - my) for a, b in zip(rx, ry, strict=True))
    vx = math.fsum((a - mx) ** 2 for a in rx)
    vy = math.fsum((b - my) ** 2 for b in ry)
    if vx == 0 or vy == 0:
        raise ValueError("spearman is undefined when x or y is constant")
    return cov / math.sqrt(vx * vy)


def _ranks(values: Sequence[float]) -> list[float]:
    """1-based ranks, ties given the mean of the ranks they span."""
    order = sorted(range(len(values)), key=values.__getitem__)
    ranks = [0.0] * len(values)
    start = 0
    while start < len(order):
        end = start
        while end + 1 < len(order) and values[order[end + 1]] == values[order[start]]:
            end += 1
        for i in order[start : end + 1]:
            ranks[i] = (start + end) / 2 + 1
        start = end + 1
    return ranks


def _check_pairs(scores: Sequence[float], examples: Sequence[Example]) -> int:
    if len(scores) != len(examples):
        raise ValueError(f"{len(scores)} scores for {len(examples)} examples")
    if not examples:
        raise ValueError("no examples to evaluate")
    if not all(math.isfinite(s) for s in scores):
        raise ValueError("scores must be finite numbers")
    return len(examples)
