"""Fit, and check out of sample, the six weights and the bias of the complexity scorer.

    pip install numpy      # this script only; the package itself needs no numpy
    python benchmarks/fit_scorer_weights.py

What it does, and why it is built this way:

1. Reads arena_bench_v1 (../shared/data) and computes the six dimension values of every
   prompt with the package's own ``scorer.dimensions``: the cues are written by hand, only
   the weights are fitted here. (Caveat: the word lists were written while reading arena
   prompts, and a few generic math and tool words were added after reading its misses;
   cross-validation cannot see that choice. The never-fitted model pairs, MATH levels and
   ShareGPT shares below are the checks that do not share it.)
2. **Direction** (which dimensions matter, and how much): ridge regression of the quality
   gap (gpt-4-turbo minus Mistral-7B-Instruct, judge score / 10) on the standardised
   dimensions; that gap is exactly what APGR ranks by. The ridge shrinks toward ``PRIOR``
   (equal weights on the five cue dimensions, none on length) rather than toward zero:
   295 noisy prompts should only nudge a sensible default. Every weight is held >= 0 (more
   of a dimension never makes a prompt look easier), so noise cannot flip a sign; under
   that constraint ``tokens`` fits to 0 (on the arena, longer prompts have smaller gaps).
   ``--ridge`` changes the strength: from 0.01 to 1000 the cross-validated APGR moves only
   between about 0.525 and 0.531: the cues matter, their exact weights hardly do.
3. **Calibration** (the bias and the scale of the logistic): neither changes the ranking,
   so neither changes APGR. They are set on real chat traffic (sharegpt_prompts), so that
   the default threshold 0.65 sends ``SHARE_HIGH`` of it to tier_high and the
   ``LOW_QUANTILE`` of it scores ``LOW_SCORE``.
4. **Honesty**: 5-fold cross-validation repeated over seeds (fit on 4/5, measure APGR on
   the held-out 1/5, and on all prompts from out-of-fold scores), APGR on weak/strong pairs
   that were never fitted, and the Spearman correlation with MATH difficulty levels.

The printed ``WEIGHTS`` and ``BIAS`` are what ``src/adaptive_router/scoring/scorer.py``
hard-codes.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from _common import OTHER_PAIRS as HELD_OUT_PAIRS  # noqa: E402
from _common import STRONG, WEAK  # noqa: E402
from adaptive_router.scoring.evaluation import Example, apgr, load_outcomes, spearman  # noqa: E402
from adaptive_router.scoring.scorer import DIMENSIONS, dimensions  # noqa: E402

DATA = ROOT.parent / "shared" / "data"  # the team's dev data; the package ships subsets
# the held-out pairs, and one more with claude-2.1 as the strong model
OTHER_PAIRS = [*HELD_OUT_PAIRS, ("Llama-2-70b-chat", "claude-2.1")]
RIDGE = 100.0  # penalty toward PRIOR, in units of 1% of n on standardised dimensions
PRIOR = {"math": 1.0, "code": 1.0, "depth": 1.0, "tokens": 0.0, "entities": 1.0, "negation": 1.0}
FREE_SIGN: set[str] = set()  # dimensions allowed a negative weight: none (see 2.)
SHARE_HIGH = 0.20  # of ShareGPT prompts at or above 0.65
LOW_QUANTILE, LOW_SCORE = 0.25, 0.25  # a quarter of chat prompts score at most 0.25
THRESHOLD = 0.65
FOLDS, SEEDS = 5, 10


def numpy() -> Any:
    try:
        import numpy as np
    except ImportError:
        sys.exit("this script needs numpy: pip install numpy")
    return np


def read_prompts(name: str, field: str) -> list[str]:
    with (DATA / name).open(encoding="utf-8") as f:
        return [json.loads(line)[field] for line in f if line.strip()]


def fit_direction(X: Any, y: Any, ridge: float = RIDGE) -> Any:
    """Ridge weights on the raw dimensions, shrunk toward PRIOR; cue dimensions >= 0."""
    np = numpy()
    mu, sd = X.mean(0), X.std(0) + 1e-12
    Z = (X - mu) / sd
    yc = y - y.mean()
    # the prior in standardised units, scaled to fit y as well as it can on its own
    prior = np.array([PRIOR[name] for name in DIMENSIONS]) * sd
    fitted = Z @ prior
    prior = prior * max(0.0, float(fitted @ yc) / float(fitted @ fitted))
    penalty = ridge * len(y) * 0.01
    A = Z.T @ Z + penalty * np.eye(X.shape[1])
    b = Z.T @ yc + penalty * prior
    active = list(range(X.shape[1]))
    while True:
        w = np.zeros(X.shape[1])
        w[active] = np.linalg.solve(A[np.ix_(active, active)], b[active])
        bad = [i for i in active if w[i] < 0 and DIMENSIONS[i] not in FREE_SIGN]
        if not bad:
            return w / sd
        active.remove(min(bad, key=lambda i: w[i]))


def calibrate(direction: Any, chat: Any) -> tuple[Any, float]:
    """Scale and bias so chat traffic lands where SHARE_HIGH and LOW_* say."""
    np = numpy()
    z = chat @ direction
    hi = np.quantile(z, 1 - SHARE_HIGH)
    lo = np.quantile(z, LOW_QUANTILE)
    scale = (_logit(THRESHOLD) - _logit(LOW_SCORE)) / (hi - lo)
    return direction * scale, _logit(THRESHOLD) - scale * hi


def _logit(p: float) -> float:
    return math.log(p / (1 - p))


def cross_validate(
    X: Any, y: Any, examples: list[Example], ridge: float = RIDGE
) -> tuple[float, float, float]:
    """(mean held-out-fold APGR, its std, mean APGR of pooled out-of-fold scores)."""
    np = numpy()
    per_fold, pooled = [], []
    n = len(y)
    for seed in range(SEEDS):
        order = list(range(n))
        random.Random(seed).shuffle(order)
        out = np.zeros(n)
        for k in range(FOLDS):
            test = order[k::FOLDS]
            held = set(test)
            train = [i for i in order if i not in held]
            w = fit_direction(X[train], y[train], ridge)
            out[test] = X[test] @ w
            per_fold.append(apgr(list(out[test]), [examples[i] for i in test]))
        pooled.append(apgr(list(out), examples))
    return float(np.mean(per_fold)), float(np.std(per_fold)), float(np.mean(pooled))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--ridge", type=float, default=RIDGE, help="shrinkage toward PRIOR")
    ridge = parser.parse_args().ridge
    np = numpy()
    if not DATA.is_dir():
        sys.exit(f"shared data not found at {DATA.resolve()}")
    arena = DATA / "arena_bench_v1.jsonl"
    examples = load_outcomes(arena, WEAK, STRONG)
    X = np.array([dimensions(e.prompt) for e in examples])
    y = np.array([e.strong - e.weak for e in examples])
    print(f"arena_bench_v1: {len(examples)} prompts scored by both {WEAK} and {STRONG}")
    print(f"oracle APGR (routing by the true gap): {apgr(list(y), examples):.3f}")
    print("\neach dimension alone:  APGR  Spearman(value, gap)")
    for j, name in enumerate(DIMENSIONS):
        print(f"  {name:9s} {apgr(list(X[:, j]), examples):.3f}  {spearman(X[:, j], y):+.3f}")

    direction = fit_direction(X, y, ridge)
    chat = np.array([dimensions(t) for t in read_prompts("sharegpt_prompts.jsonl", "prompt")])
    weights, bias = calibrate(direction, chat)
    print(f"\nin-sample APGR: {apgr(list(X @ weights), examples):.3f}")
    mean, std, pooled = cross_validate(X, y, examples, ridge)
    print(f"{FOLDS}-fold CV x {SEEDS} seeds: held-out APGR {mean:.3f} +- {std:.3f}; "
          f"pooled out-of-fold {pooled:.3f}")  # fmt: skip

    print("\nnot fitted on (same prompts, other models):  APGR  (oracle)")
    for weak, strong in OTHER_PAIRS:
        ex = load_outcomes(arena, weak, strong)
        Xp = np.array([dimensions(e.prompt) for e in ex])
        gap = [e.strong - e.weak for e in ex]
        print(f"  {weak} -> {strong}: {apgr(list(Xp @ weights), ex):.3f}  ({apgr(gap, ex):.3f})")

    math_rows = [json.loads(line) for line in (DATA / "math_levels.jsonl").open()]
    z_math = [float(np.dot(dimensions(r["problem"]), weights)) for r in math_rows]
    print(
        f"\nSpearman(score, MATH level): {spearman(z_math, [r['level'] for r in math_rows]):+.3f}"
    )
    share = float(np.mean(chat @ weights + bias >= _logit(THRESHOLD)))
    print(f"ShareGPT share at {THRESHOLD}: {share:.1%}")

    print("\n# paste into src/adaptive_router/scoring/scorer.py")
    print("WEIGHTS: Mapping[str, float] = {")
    for name, value in zip(DIMENSIONS, weights, strict=True):
        print(f'    "{name}": {value:.2f},')
    print("}")
    print(f"BIAS = {bias:.2f}")


if __name__ == "__main__":
    main()
