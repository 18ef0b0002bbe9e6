"""Hostile input: whatever the text, a valid Score comes back, and quickly."""

import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adaptive_router.scoring import DIMENSIONS, ComplexityScorer, Score, patterns

SCORER = ComplexityScorer()

# Runs of what could make a pattern engine backtrack, or a counter miscount.
HOSTILE_UNITS = [
    "a", "1", "9.", "\\", "\\frac{", "{", "}", ";", "(", ")", "()", "```", "`", "=", "^", "+",
    "$", "<", ">", "->", "=>", "#", "_", "-", "*", "/", "\n", "\n    ", "\t", " ", "  ",
    ".", "?", "!", "'", "\u2019", "don't", "step by", "how", "many", "A", "I ", "\u221a",
    "\u03c0", "\u00d7", "\U0001f600", "\u0000", "\x1b", "\ud800", "\udfff", "\u200b", "\ufeff",
    "e\u0301", "\u0130", "\u00df", "\u2200x", "prove ", "python,", "(sql)",
]  # fmt: skip


def assert_valid(score: Score) -> None:
    assert 0.0 <= score.total <= 1.0
    assert list(score.breakdown) == list(DIMENSIONS)
    for value in score.breakdown.values():
        assert 0.0 <= value <= 1.0


@given(st.text())
def test_any_text_gives_a_valid_score(text: str) -> None:
    assert_valid(SCORER.score(text))


@given(st.lists(st.sampled_from(HOSTILE_UNITS), max_size=400))
def test_hostile_mixtures_give_a_valid_score(units: list[str]) -> None:
    assert_valid(SCORER.score("".join(units)))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(HOSTILE_UNITS), st.integers(min_value=50_000, max_value=100_000))
def test_long_runs_of_one_unit_are_fast(unit: str, length: int) -> None:
    text = (unit * (length // len(unit) + 1))[:length]
    start = time.perf_counter()
    assert_valid(SCORER.score(text))
    assert time.perf_counter() - start < 0.05  # 2 ms is the target; leave room for CI noise


@settings(max_examples=25, deadline=None)
@given(st.text(min_size=1, max_size=50), st.integers(min_value=1_000, max_value=5_000))
def test_repeated_random_text_is_valid(chunk: str, times: int) -> None:
    assert_valid(SCORER.score(chunk * times))


@pytest.mark.parametrize("text", ["", " ", "\n\n\t  \r\n", "\u3000\u00a0", "\x00" * 10])
def test_empty_and_blank_text_score_as_easy(text: str) -> None:
    score = SCORER.score(text)
    assert_valid(score)
    assert score.total < 0.65
    assert score.breakdown["math"] == score.breakdown["code"] == 0.0


def test_lone_surrogates_do_not_raise() -> None:
    assert_valid(SCORER.score("prove \ud800 that \udfff x^2 >= 0"))


# The five kinds, in the order of their fields in patterns.PACKED (math in the lowest).
KINDS = {
    "math": patterns.MATH_CUES,
    "code": patterns.CODE_CUES,
    "depth": patterns.DEPTH_CUES,
    "negation": patterns.NEGATION_CUES,
    "writing": patterns.WRITING_CUES,
}
# What the scorer promises to see through when it splits a prompt on whitespace: the
# punctuation that sticks to a word ("python,", "(sql)", "`json`", "proofs") and the
# typographic apostrophe of pasted text ("don\u2019t"). Spelled out here, not read from
# patterns, so a form dropped there fails here.
LEADING = ("", "(", '"', "'", "`")
TRAILING = ("", ".", ",", ":", ";", "?", "!", ")", '"', "'", "`", "s")


def kinds_counted(word: str) -> set[str]:
    """The kinds whose field PACKED[word] adds one to."""
    packed, mask = patterns.PACKED[word], (1 << patterns.KIND_BITS) - 1
    return {kind for i, kind in enumerate(KINDS) if packed >> (patterns.KIND_BITS * i) & mask}


def kinds_of(word: str) -> set[str]:
    return {kind for kind, cues in KINDS.items() if word in cues}


def spellings(word: str) -> list[str]:
    forms = {word, word.replace("'", "\u2019")}
    return [lead + form + trail for form in forms for lead in LEADING for trail in TRAILING]


def misreading(word: str, spelling: str) -> str | None:
    """Why this spelling of a cue word is not counted as that word; None when it is."""
    if spelling not in patterns.WORD_SET:
        return "not in WORD_SET"
    found = patterns.CANONICAL[spelling]
    # a plural that is a cue of its own ("proofs") may read as its singular plus "s": the
    # same kinds, counted once
    if word not in (found, found + "s"):
        return f"reads as {found!r}"
    if kinds_counted(found) != kinds_of(word):
        return f"counts as {sorted(kinds_counted(found))}, not {sorted(kinds_of(word))}"
    if word in patterns.TRIGGERS and found != word:
        return f"reads as {found!r}: a trigger word's phrases are looked for only under it"
    return None


def test_every_spelling_maps_to_a_cue_word() -> None:
    cue_words = sorted(set().union(*KINDS.values()) | patterns.TRIGGER_WORDS)
    assert len(cue_words) > 300  # the tables are there at all
    wrong = [
        (spelling, why)
        for word in cue_words
        for spelling in spellings(word)
        if (why := misreading(word, spelling))
    ]
    assert wrong == [], wrong[:20]
