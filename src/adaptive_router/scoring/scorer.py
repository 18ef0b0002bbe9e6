"""ComplexityScorer: how hard a prompt is, in [0, 1], from six cheap, explainable dimensions.

Each dimension counts cues (see :mod:`adaptive_router.scoring.patterns`) and saturates the
count with ``hits / (hits + half)``: the first cue matters most, the tenth adds little, and
the value stays in [0, 1]. The total is a fixed logistic of a weighted sum::

    total = 1 / (1 + exp(-(BIAS + sum(WEIGHTS[d] * value[d]))))

so every score can be explained from its breakdown. The weights and the bias are fitted and
checked out of sample by ``benchmarks/fit_scorer_weights.py``; the constants below are its
output.

    >>> scorer = ComplexityScorer()
    >>> scorer.score("Prove the Riemann hypothesis step by step").total >= 0.65
    True
    >>> scorer.score("What time is it in Tokyo?").total < 0.65
    True
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from adaptive_router.scoring import patterns as p

DIMENSIONS: tuple[str, ...] = ("math", "code", "depth", "tokens", "entities", "negation")

# Weighted sum -> logistic. Output of benchmarks/fit_scorer_weights.py: ridge regression of
# the arena quality gap (gpt-4-turbo minus Mistral-7B) on the dimensions, shrunk toward
# equal weights (the arena signal is weak: 295 prompts), every weight held >= 0 (more of a
# dimension never makes a prompt look easier); the bias and the scale put the default
# threshold 0.65 at the top 20% of ShareGPT chat prompts. `tokens` fits to 0: on the arena
# longer prompts have *smaller* gaps (pasted context, role-play set-ups), so the fit would
# make it negative, while on MATH longer problems are harder; length does not vote.
WEIGHTS: Mapping[str, float] = {
    "math": 1.74,
    "code": 2.79,
    "depth": 1.79,
    "tokens": 0.00,
    "entities": 1.31,
    "negation": 1.66,
}
BIAS = -1.24
MAX_WEIGHT = 1e6  # bounds a custom weight, so the weighted sum stays finite (never NaN)

# Half-saturation: the hit count at which a dimension reads 0.5.
HALF_MATH = 1.5
HALF_CODE = 1.5
HALF_DEPTH = 1.0
HALF_ENTITIES = 4.0
HALF_NEGATION = 1.5
HALF_TOKENS_CHARS = 2000.0  # ~500 tokens: a long chat message, not yet a pasted document

# What a symbol is worth next to a word: one "=" is not a math word, five are a formula.
MATH_SYMBOL_HIT = 0.25
CODE_SYMBOL_HIT = 0.25
DIGIT_HIT = 0.1  # per digit: "3 apples and 5 pears" adds 0.2 to math and to entities

# Each open-ended writing cue ("story", "essay", "act as") divides the cue dimensions by
# (1 + this): one halves them. Such asks want fluent prose, which the small tier writes well.
WRITING_DISCOUNT = 1.0

# Keyword dimensions read the head and the tail of a long prompt: the ask is almost always at
# one end, and pasted material in the middle would only add noise and time. `tokens` uses
# the full length.
SCAN_HEAD = 640
SCAN_TAIL = 192


@dataclass(frozen=True, slots=True)
class Score:
    """The result of scoring one prompt.

    ``total`` is in [0, 1]; ``breakdown`` maps each name in :data:`DIMENSIONS` to its value
    in [0, 1].

    >>> s = ComplexityScorer().score("hi")
    >>> sorted(s.breakdown) == sorted(DIMENSIONS)
    True
    """

    total: float
    breakdown: Mapping[str, float]


class ComplexityScorer:
    """Scores how hard a prompt is, in [0, 1], with no inference (a few C-level string ops).

    ``weights`` overrides some or all of :data:`WEIGHTS` (numbers within +-1e6, keyed by
    dimension name); the bias stays fixed, so a larger weight makes that dimension push
    harder. A bad name or value raises ``ValueError``.

    >>> scorer = ComplexityScorer()
    >>> scorer.score("hi").total < 0.65
    True
    >>> ComplexityScorer({"tokens": 2.0}).score("x" * 9000).breakdown["tokens"] > 0.8
    True
    """

    def __init__(self, weights: Mapping[str, float] | None = None) -> None:
        merged = dict(WEIGHTS)
        for name, value in (weights or {}).items():
            if name not in merged:
                raise ValueError(f"unknown dimension {name!r}; expected one of {DIMENSIONS}")
            if not isinstance(value, int | float) or not abs(value) <= MAX_WEIGHT:
                raise ValueError(
                    f"weight for {name!r} must be a number in [-{MAX_WEIGHT:g}, {MAX_WEIGHT:g}],"
                    f" not {value!r}"
                )
            merged[name] = float(value)
        self.weights: Mapping[str, float] = merged
        self._w = tuple(merged[name] for name in DIMENSIONS)

    def score(self, text: str) -> Score:
        """Score one prompt: ``Score(total, breakdown)``, both in [0, 1].

        >>> ComplexityScorer().score("Solve x^2 = 4").breakdown["math"] > 0
        True
        """
        values = dimensions(text)
        w = self._w
        z = BIAS + (
            w[0] * values[0]
            + w[1] * values[1]
            + w[2] * values[2]
            + w[3] * values[3]
            + w[4] * values[4]
            + w[5] * values[5]
        )
        breakdown = {
            "math": values[0],
            "code": values[1],
            "depth": values[2],
            "tokens": values[3],
            "entities": values[4],
            "negation": values[5],
        }
        return Score(_logistic(z), breakdown)

    def score_many(self, texts: Iterable[str]) -> list[Score]:
        """Score each prompt of ``texts``, in order."""
        return [self.score(text) for text in texts]


def dimensions(text: str) -> tuple[float, float, float, float, float, float]:
    """The six dimension values of ``text``, in :data:`DIMENSIONS` order.

    One straight pass of C-level string calls; no regex, so no input can make it slow.
    """
    length = len(text)
    if length > SCAN_HEAD + SCAN_TAIL:
        text = text[:SCAN_HEAD] + "\n" + text[-SCAN_TAIL:]
    low = text.lower()
    words = _word_hits(low)
    m: float = words[0]
    c: float = words[1]
    d, n, writing = words[2], words[3], words[4]
    raw = text.encode("utf-8", "surrogatepass")
    classes = raw.translate(p.BYTE_CLASSES)  # one C pass; then a count per class
    digits = classes.count(p.DIGIT)
    m += DIGIT_HIT * digits + MATH_SYMBOL_HIT * classes.count(p.MATH_SYMBOL)
    if not text.isascii():
        m += sum(map(raw.count, p.MATH_GLYPHS))
    if p.CODE_HINT in classes:
        c += CODE_SYMBOL_HIT * sum(map(text.count, p.CODE_SYMBOLS))
    e = DIGIT_HIT * digits
    if not text.isupper():  # SHOUTING names nothing
        capitals = classes.count(p.CAPITAL) - raw.count(b" I ") - raw.count(b" I'")
        e += max(0, capitals - max(1, classes.count(p.SENTENCE_END)))
    keep = 1.0 / (1.0 + WRITING_DISCOUNT * writing)
    return (
        keep * m / (m + HALF_MATH),
        keep * c / (c + HALF_CODE),
        keep * d / (d + HALF_DEPTH),
        length / (length + HALF_TOKENS_CHARS),
        keep * e / (e + HALF_ENTITIES),
        keep * n / (n + HALF_NEGATION),
    )


def _word_hits(low: str) -> tuple[int, int, int, int, int]:
    """How many distinct math, code, depth, negation and writing cues ``low`` holds."""
    found = set(map(p.CANONICAL.__getitem__, p.WORD_SET.intersection(low.split())))
    if not found:
        return 0, 0, 0, 0, 0
    for word in p.TRIGGER_WORDS.intersection(found):
        for phrase, cue in p.TRIGGERS[word]:
            if phrase in low:
                found.add(cue)
    packed = sum(map(p.PACKED.__getitem__, found))  # all five counts in one C-level sum
    mask = (1 << p.KIND_BITS) - 1
    return (
        packed & mask,
        packed >> p.KIND_BITS & mask,
        packed >> 2 * p.KIND_BITS & mask,
        packed >> 3 * p.KIND_BITS & mask,
        packed >> 4 * p.KIND_BITS,
    )


def _logistic(z: float) -> float:
    # every value is in [0, 1] and |weight| <= MAX_WEIGHT, so z is finite; the clamp keeps
    # exp() from overflowing for large custom weights
    if z < -700.0:
        return 0.0
    if z > 700.0:
        return 1.0
    return 1.0 / (1.0 + math.exp(-z))
