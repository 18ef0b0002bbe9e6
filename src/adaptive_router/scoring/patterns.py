"""What the complexity scorer looks for: word lists, phrases and symbols, as lookup tables.

The scorer runs no regex. It lower-cases the prompt, splits it on whitespace once and
intersects the words with :data:`WORD_SET` (one C-level set operation); each word found is
mapped to its canonical form (:data:`CANONICAL`), the few multi-word :data:`PHRASES` whose
trigger word was found are looked for with ``in``, and one ``sum`` over :data:`PACKED`
counts the cues of every kind at once. Symbols are counted with one ``bytes.translate``
and a few ``count`` calls. Nothing here can backtrack, whatever the input, and the cost
is a few C passes over the text.

A cue counts once per prompt however often it repeats: a prompt that says "code" five
times asks for code no more than one that says it once.

    >>> "prove" in MATH_CUES and "prove" in DEPTH_CUES
    True
    >>> PACKED["prove"] == 1 + (1 << 2 * KIND_BITS)  # math and depth
    True
    >>> CANONICAL["(python),"[:-1]], CANONICAL["don\u2019t"]
    ('python', "don't")
"""

from __future__ import annotations

from collections.abc import Iterable

MATH_WORDS = """
algebra algebraic angle area arithmetic average calculate calculated calculating calculation
calculations calculus circle coefficient coefficients combinatorics compute computing
conjecture cos cosine denominator derivative derivatives differential differentiate
differentiation digit digits distance divisible divisor eigenvalue eigenvalues equation
equations exponent exponential factorial factorize formula formulas fraction fractions gcd
geometric geometry hypotenuse hypothesis inequality infinitely integer integers integral
integrals integrate integration irrational lcm logarithm logarithms math mathematical
mathematically mathematics maths matrices matrix maximize maximum median minimize minimum
modulo multiply numerator parabola percent percentage perpendicular polygon polynomial
polynomials prime primes probabilities probability quadratic radius ratio rational remainder
simplify sin slope solve solving sqrt statistics sum tan triangle variance vector vectors
volume
"""
PROOF_WORDS = """
axiom contradiction derivation derive induction lemma proof proofs prove proves proving
rigorous rigorously theorem theorems
"""
# Naming a language, library or tool is the clearest sign that working code is wanted.
CODE_NAMES = """
angular ansible arduino assembly aws azure bash blender c# c++ c11 c99 cmake css cuda dart
django docker dockerfile esp32 esp8266 excel fastapi flask flutter fpga gcc git glsl golang
gradle graphql haskell html http java javascript jquery json julia jupyter jwt keras kotlin
kubernetes langchain latex linux llvm lua matlab mongodb mysql nginx node.js nodejs npm numpy
opengl pandas perl php postgres postgresql powershell prolog python python3 pytorch qiskit
react redis regex ruby rust scala scikit-learn selenium shader sklearn solidity spark sql
sqlite svelte swift tailwind tensorflow terraform torch typescript unity vba verilog vhdl vue
vuejs wasm webpack websocket x86 yaml yml zig
"""
CODE_WORDS = """
api array arrays async bug bugs class classes code coding compile compiler csv database
dataframe debug debugging endpoint function functions implement implementation implementing
kernel library loop method module parse parser parsing program programming programs query
recursion recursive refactor script scripts snippet string strings struct syntax thread threads
traceback variable variables
"""
ALGORITHM_WORDS = "algorithm algorithms optimize optimise optimization optimal complexity"
DEPTH_WORDS = """
analyse analysis analyze analyzing compare comparing comparison contrast deduce design
designing justify logic logical logically puzzle puzzles reasoning riddle riddles step-by-step
trade-off trade-offs tradeoff tradeoffs why
"""
NEGATION_WORDS = """
avoid can't cannot doesn't don't exactly except excluding forbidden instead least must mustn't
neither never nor not only shouldn't unless without won't
"""
# Open-ended writing and advice: fluent prose is what is asked, and the small tier writes it
# about as well. These cues feed no dimension; they discount the others ("a poem about
# prime numbers" is not a math problem).
WRITING_WORDS = """
advice article blog creative describe dialogue discuss email essay fiction fictional ideas
imagine joke jokes letter lyrics marketing narrative novel opinion poem poems poetry pretend
recommend role-play roleplay slogan song speech stories story suggest suggestions summarize
summary tips tweet
"""

# (phrase, trigger): the phrase is looked for, with ``in``, only in prompts that contain its
# trigger word, so a prompt pays only for the few phrases it could hold.
PHRASES: tuple[tuple[str, str], ...] = (
    ("step by step", "step"),
    ("each step", "step"),
    ("explain why", "explain"),
    ("explain how", "explain"),
    ("in detail", "detail"),
    ("show that", "show"),
    ("pros and cons", "pros"),
    ("how many", "many"),
    ("how much", "much"),
    ("how long", "long"),
    ("no more than", "than"),
    ("at most", "most"),
    ("act as", "act"),
)


def _kind(*lists: str) -> frozenset[str]:
    return frozenset(word for words in lists for word in words.split())


# What each kind of cue is made of; a proof is both mathematics and sustained reasoning, an
# algorithm both code and reasoning.
MATH_CUES = _kind(MATH_WORDS, PROOF_WORDS, "how-many how-much how-long show-that")
CODE_CUES = _kind(CODE_NAMES, CODE_WORDS, ALGORITHM_WORDS)
DEPTH_CUES = _kind(
    DEPTH_WORDS, PROOF_WORDS, ALGORITHM_WORDS, "step-by-step each-step explain-why",
    "explain-how in-detail show-that pros-and-cons",
)  # fmt: skip
NEGATION_CUES = _kind(NEGATION_WORDS, "no-more-than at-most")
WRITING_CUES = _kind(WRITING_WORDS, "act-as")
"""Canonical cues of each kind. A phrase found is added to the cues as its hyphenated form
("how many" -> "how-many")."""

MATH_GLYPHS: tuple[bytes, ...] = (
    "\u2200".encode()[:2],  # U+2200..U+223F: for all, exists, in, sum, root, infinity, ...
    "\u2240".encode()[:2],  # U+2240..U+227F: approximately, not equal, <=, >=, ...
    "\u03c0".encode(),  # pi
    "\u00b1".encode(),  # plus-minus
    "\u00d7".encode(),  # times
    "\u00f7".encode(),  # divided by
)
"""UTF-8 byte prefixes of non-ASCII math glyphs, counted only in non-ASCII prompts."""

CODE_SYMBOLS: tuple[str, ...] = ("```", "\n    ", "\n\t", "{\n", ";\n", "()")
"""What code looks like: fences, indented lines, a brace or semicolon ending a line (where
LaTeX's ``\\frac{1}{2}`` and prose's semicolons do not put them), empty calls."""


def _byte_classes() -> bytes:
    """A ``bytes.translate`` table mapping each byte to its class letter (see below)."""
    table = bytearray(b" " * 256)
    classes = {
        DIGIT: b"0123456789",
        CAPITAL: bytes(range(ord("A"), ord("Z") + 1)),
        MATH_SYMBOL: b"=^+\\$<>",  # "formula" characters
        SENTENCE_END: b".?!\n",  # a capital after one starts a sentence and names nothing
        CODE_HINT: b"`{;()#",  # without any, a prompt holds no CODE_SYMBOLS worth counting
    }
    for letter, members in classes.items():
        for byte in members:
            table[byte] = letter[0]
    return bytes(table)


DIGIT, CAPITAL, MATH_SYMBOL, SENTENCE_END, CODE_HINT = b"0", b"A", b"=", b".", b"{"
BYTE_CLASSES = _byte_classes()
"""One ``translate`` with this table, then one ``count`` per class, counts five character
classes of a prompt's UTF-8 bytes (non-ASCII bytes are in no class)."""

# Punctuation that sticks to a word when a prompt is split on whitespace ("python,", "(sql)").
_TRAILING = ("", ".", ",", ":", ";", "?", "!", ")", '"', "'", "`", "s")
_LEADING = ("", "(", '"', "'", "`")


def _spellings(word: str) -> Iterable[str]:
    forms = {word, word.replace("'", "\u2019")}  # typographic apostrophes, as pasted
    for form in forms:
        for lead in _LEADING:
            for trail in _TRAILING:
                yield lead + form + trail


def _canonical(words: Iterable[str]) -> dict[str, str]:
    table: dict[str, str] = {}
    for word in words:
        for spelling in _spellings(word):
            table.setdefault(spelling, word)
    return table


TRIGGERS: dict[str, tuple[tuple[str, str], ...]] = {}
"""Trigger word -> the (phrase, its hyphenated cue) pairs to look for."""
for _phrase, _trigger in PHRASES:
    TRIGGERS[_trigger] = (*TRIGGERS.get(_trigger, ()), (_phrase, _phrase.replace(" ", "-")))

TRIGGER_WORDS: frozenset[str] = frozenset(TRIGGERS)

CANONICAL: dict[str, str] = _canonical(
    sorted(MATH_CUES | CODE_CUES | DEPTH_CUES | NEGATION_CUES | WRITING_CUES | TRIGGER_WORDS)
)
"""A whitespace-split, lower-cased word with the punctuation stuck to it ("python,",
"(sql)", "don\u2019t") -> the cue or trigger word it spells."""

WORD_SET: frozenset[str] = frozenset(CANONICAL)
"""The keys of :data:`CANONICAL`, for one ``intersection`` call per prompt."""

KIND_BITS = 12
"""Each kind's count takes 12 bits of :data:`PACKED`'s sums: far more than any kind has
words (about 150 at most), so the fields cannot overflow into each other."""


def _packed() -> dict[str, int]:
    kinds = (MATH_CUES, CODE_CUES, DEPTH_CUES, NEGATION_CUES, WRITING_CUES)
    every = set().union(*kinds, TRIGGER_WORDS)
    return {
        word: sum(1 << (KIND_BITS * i) for i, kind in enumerate(kinds) if word in kind)
        for word in every
    }


PACKED: dict[str, int] = _packed()
"""Cue word -> its kinds as one int, a 1 in the field of each kind (math in the lowest).
Summing these over the distinct words of a prompt counts all five kinds in one ``sum``."""
