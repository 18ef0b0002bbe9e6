"""The prompts a run sends: ShareGPT, synthetic fixed-length, or a mixed easy/hard set.

The prompts come from ``data_dir`` when given, else from the data bundled with the package
(:mod:`adaptive_router.data`: 300 ShareGPT prompts and 200 MATH level-5 problems).

Every workload is a fixed sequence drawn with ``random.Random(seed)``: the same seed gives
the same prompts in the same order, and every target and load level gets that sequence, so
targets are compared on identical requests. Warm-up prompts are drawn apart from measured
ones.

- ``sharegpt``: real first-turn user prompts (``sharegpt_prompts.jsonl``), shuffled; those
  longer than ``max_prompt_chars`` (about 4 characters a token) are left out so that they fit
  small context windows.
- ``synthetic``: ``input_tokens`` common English words (each one token for Gemma, Llama and
  GPT tokenizers; the chat template adds a few more, and the engine's ``usage.prompt_tokens``
  in the raw records is exact). Pair it with ``ignore_eos`` for a fixed output length.
- ``mixed``: a share ``hard_share`` of hard prompts, the rest easy, in an exact proportion
  per sequence. Easy: short ShareGPT chit-chat (at most 200 characters, no code or reasoning
  words). Hard: MATH level-5 problems (``math_levels.jsonl``, at most 600 characters) asked
  the way evaluation harnesses ask them ("Solve the following math problem step by step..."),
  and ShareGPT prompts asking for code or reasoning (40-800 characters), two MATH problems
  for each code/reasoning ask.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from importlib.resources.abc import Traversable
from itertools import count, cycle, islice
from pathlib import Path
from typing import Any

import orjson

from adaptive_router.data import MATH_FILE, SHAREGPT_FILE, bundled
from adaptive_router.errors import DataFileError

MATH_TEMPLATE = (
    "Solve the following math problem step by step. The last line of your response should "
    "be of the form Answer: $ANSWER.\n\n{problem}"
)
EASY_MAX_CHARS = 200
MATH_MAX_CHARS = 600
CODE_CHARS = (40, 800)
REASONING = re.compile(
    r"```|\b(code|python|javascript|java|sql|function|algorithm|implement|program|script|"
    r"debug|regex|prove|proof|step by step|explain why|derive|calculate|complexity)\b",
    re.IGNORECASE,
)
WORDS = (
    "the", "time", "people", "year", "way", "day", "thing", "man", "world", "life",
    "hand", "part", "child", "eye", "woman", "place", "work", "week", "case", "point",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Prompt:
    """One prompt: ``id`` names its source line, ``kind`` its class (easy/hard/...)."""

    id: str
    text: str
    kind: str


@dataclass(frozen=True, slots=True)
class Workload:
    """The warm-up prompts and the measured prompts of every level, in order."""

    warmup: tuple[Prompt, ...]
    measured: tuple[Prompt, ...]


@dataclass(frozen=True, slots=True)
class WorkloadSpec:
    """What to draw (``kind`` sharegpt / synthetic / mixed) and how many."""

    kind: str
    warmup: int
    measured: int
    seed: int = 0
    data_dir: Path | None = None
    input_tokens: int = 256
    hard_share: float = 0.3
    max_prompt_chars: int = 3000


def build_workload(spec: WorkloadSpec) -> Workload:
    """Draw the warm-up and measured prompts of ``spec``, reproducibly."""
    rng = random.Random(spec.seed)
    draw = _drawer(spec, rng)
    return Workload(tuple(draw(spec.warmup)), tuple(draw(spec.measured)))


def _drawer(spec: WorkloadSpec, rng: random.Random) -> Callable[[int], list[Prompt]]:
    data_dir: Traversable = spec.data_dir or bundled()
    if spec.kind == "synthetic":
        counter = count()
        return lambda n: [synthetic_prompt(rng, spec.input_tokens, next(counter)) for _ in range(n)]
    if spec.kind == "sharegpt":
        pool = [p for p in sharegpt_prompts(data_dir) if len(p.text) <= spec.max_prompt_chars]
        if not pool:
            raise DataFileError(str(data_dir / SHAREGPT_FILE), None, "no prompt short enough")
        stream = _shuffled_cycle(pool, rng)
        return lambda n: list(islice(stream, n))
    if spec.kind == "mixed":
        easy, hard = mixed_pools(data_dir, rng)
        easy_stream, hard_stream = _shuffled_cycle(easy, rng), _shuffled_cycle(hard, rng)
        return lambda n: _mixed(n, spec.hard_share, rng, easy_stream, hard_stream)
    raise ValueError(f"unknown workload {spec.kind!r}")


def _shuffled_cycle(pool: list[Prompt], rng: random.Random) -> Iterator[Prompt]:
    ordered = list(pool)
    rng.shuffle(ordered)
    return cycle(ordered)


def _mixed(
    n: int, share: float, rng: random.Random, easy: Iterator[Prompt], hard: Iterator[Prompt]
) -> list[Prompt]:
    n_hard = round(n * share)
    kinds = [True] * n_hard + [False] * (n - n_hard)
    rng.shuffle(kinds)
    return [next(hard) if is_hard else next(easy) for is_hard in kinds]


def synthetic_prompt(rng: random.Random, tokens: int, index: int) -> Prompt:
    """``tokens`` random common words (about one token each)."""
    text = " ".join(rng.choice(WORDS) for _ in range(tokens))
    return Prompt(f"synthetic:{index}", text, "synthetic")


def sharegpt_prompts(data_dir: Traversable) -> list[Prompt]:
    """Every ShareGPT first-turn prompt, in file order."""
    rows = read_jsonl(data_dir / SHAREGPT_FILE, "prompt")
    return [Prompt(f"sharegpt:{row.get('id', n)}", row["prompt"], "sharegpt") for n, row in rows]


def mixed_pools(data_dir: Traversable, rng: random.Random) -> tuple[list[Prompt], list[Prompt]]:
    """(easy, hard) prompts of the mixed workload; hard holds two MATH problems per code ask."""
    easy: list[Prompt] = []
    code: list[Prompt] = []
    for p in sharegpt_prompts(data_dir):
        asks = REASONING.search(p.text) is not None
        if not asks and len(p.text) <= EASY_MAX_CHARS:
            easy.append(Prompt(p.id, p.text, "easy"))
        elif asks and CODE_CHARS[0] <= len(p.text) <= CODE_CHARS[1]:
            code.append(Prompt(p.id, p.text, "hard"))
    math = math_prompts(data_dir)
    if not easy or not code or not math:
        raise DataFileError(str(data_dir), None, "too few prompts for the mixed workload")
    math = rng.sample(math, min(len(math), 2 * len(code)))
    return easy, math + code


def math_prompts(data_dir: Traversable, level: int = 5) -> list[Prompt]:
    """MATH problems of ``level`` (short enough), in the step-by-step template."""
    rows = read_jsonl(data_dir / MATH_FILE, "problem")
    return [
        Prompt(f"math:{n}", MATH_TEMPLATE.format(problem=row["problem"]), "hard")
        for n, row in rows
        if row.get("level") == level and len(row["problem"]) <= MATH_MAX_CHARS
    ]


def read_jsonl(path: Traversable, required: str) -> list[tuple[int, dict[str, Any]]]:
    """(line number, object) of each non-blank line; DataFileError names what is wrong."""
    try:
        lines = path.read_bytes().splitlines()
    except OSError as exc:
        raise DataFileError(str(path), None, f"cannot read it ({exc.strerror or exc})") from None
    rows = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            raise DataFileError(str(path), number, f"not JSON ({exc})") from None
        if not isinstance(row, dict) or not isinstance(row.get(required), str):
            raise DataFileError(str(path), number, f'no string field "{required}"')
        rows.append((number, row))
    if not rows:
        raise DataFileError(str(path), None, "the file holds no prompts")
    return rows
