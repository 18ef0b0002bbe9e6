"""How well ComplexityScorer routes: APGR on arena_bench_v1, held out, and sanity checks.

    python benchmarks/scorer_quality.py

Prints, for weak = Mistral-7B-Instruct-v0.1 and strong = gpt-4-turbo (outcome = judge score
/ 10): the APGR of this scorer, of prompt length alone, of random scores (mean over seeds)
and of the oracle (routing by the true gap, the ceiling on this data); PGR at 10/20/50%
sent to tier_high; the held-out figures (cross-validated APGR of the weight fit, which needs
numpy, and APGR on model pairs never fitted on); the Spearman correlation of the score with
MATH difficulty level; and the share of ShareGPT and arena prompts the default threshold
0.65 sends to tier_high.
"""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from _common import OTHER_PAIRS, STRONG, WEAK  # noqa: E402
from adaptive_router.config import RoutingConfig  # noqa: E402
from adaptive_router.scoring import ComplexityScorer  # noqa: E402
from adaptive_router.scoring.evaluation import (  # noqa: E402
    Example,
    apgr,
    load_outcomes,
    pgr_curve,
    spearman,
)

DATA = ROOT.parent / "shared" / "data"  # the team's dev data; the package ships subsets
ARENA = DATA / "arena_bench_v1.jsonl"
RANDOM_SEEDS = 200


def rows(name: str) -> list[dict[str, object]]:
    path = DATA / name
    if not path.is_file():
        sys.exit(f"shared data set missing: {path.resolve()}")
    with path.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def random_apgr(examples: list[Example]) -> float:
    total = 0.0
    for seed in range(RANDOM_SEEDS):
        rng = random.Random(seed)
        total += apgr([rng.random() for _ in examples], examples)
    return total / RANDOM_SEEDS


def held_out() -> None:
    """Cross-validated APGR of the weight fit (benchmarks/fit_scorer_weights.py)."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    try:
        import numpy as np

        import fit_scorer_weights as fit
    except ImportError:
        print("  cross-validation skipped: it refits the weights with numpy (pip install numpy)")
        return
    from adaptive_router.scoring.scorer import dimensions

    examples = load_outcomes(ARENA, WEAK, STRONG)
    X = np.array([dimensions(e.prompt) for e in examples])
    y = np.array([e.strong - e.weak for e in examples])
    mean, std, pooled = fit.cross_validate(X, y, examples)
    print(
        f"  {fit.FOLDS}-fold CV x {fit.SEEDS} seeds (refit on 4/5, scored on 1/5): "
        f"held-out APGR {mean:.3f} +- {std:.3f}; pooled out-of-fold {pooled:.3f}"
    )


def main() -> None:
    scorer = ComplexityScorer()
    threshold = RoutingConfig().complexity_threshold
    examples = load_outcomes(ARENA, WEAK, STRONG)
    scores = [scorer.score(e.prompt).total for e in examples]
    print(f"arena_bench_v1: {len(examples)} prompts, weak {WEAK}, strong {STRONG}")
    print(f"  APGR this scorer        {apgr(scores, examples):.3f}")
    print(f"  APGR prompt length      {apgr([len(e.prompt) for e in examples], examples):.3f}")
    print(f"  APGR random (mean of {RANDOM_SEEDS}) {random_apgr(examples):.3f}")
    oracle = apgr([e.strong - e.weak for e in examples], examples)
    print(f"  APGR oracle (true gap)  {oracle:.3f}   <- the ceiling on this data")
    curve = pgr_curve(scores, examples)
    for pct in (10, 20, 50):
        print(f"  PGR at {pct}% to tier_high: {curve[pct]:.3f}")

    print("\nheld out")
    held_out()
    for weak, strong in OTHER_PAIRS:
        pair = load_outcomes(ARENA, weak, strong)
        value = apgr([scorer.score(e.prompt).total for e in pair], pair)
        ceiling = apgr([e.strong - e.weak for e in pair], pair)
        print(f"  never fitted: {weak} -> {strong}: APGR {value:.3f} (oracle {ceiling:.3f})")

    math_rows = rows("math_levels.jsonl")
    math_scores = [scorer.score(str(r["problem"])).total for r in math_rows]
    levels = [float(str(r["level"])) for r in math_rows]
    print(f"\nSpearman(score, MATH level), {len(math_rows)} problems: "
          f"{spearman(math_scores, levels):+.3f}")  # fmt: skip

    chat = [str(r["prompt"]) for r in rows("sharegpt_prompts.jsonl")]
    chat_share = sum(scorer.score(t).total >= threshold for t in chat) / len(chat)
    arena_share = sum(s >= threshold for s in scores) / len(scores)
    print(f"\nshare sent to tier_high at the default threshold {threshold}:")
    print(f"  ShareGPT ({len(chat)} prompts): {chat_share:.1%}")
    print(f"  arena_bench_v1 ({len(scores)} prompts): {arena_share:.1%}")


if __name__ == "__main__":
    main()
