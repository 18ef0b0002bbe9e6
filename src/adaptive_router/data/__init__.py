"""Data files shipped inside the package; README.md beside them names their sources and licences.

``stratum bench`` draws its default prompts from here and ``stratum eval`` evaluates on the
judged set here when given no file. The files are found with :mod:`importlib.resources`, so
they work wherever the package is installed:

    >>> (bundled() / SHAREGPT_FILE).is_file()
    True
"""

from importlib.resources import files
from importlib.resources.abc import Traversable

__all__ = ["ARENA_FILE", "MATH_FILE", "SHAREGPT_FILE", "bundled"]

SHAREGPT_FILE = "sharegpt_prompts.jsonl"
MATH_FILE = "math_levels.jsonl"
ARENA_FILE = "arena_bench_v1.jsonl"


def bundled() -> Traversable:
    """The folder of the bundled data files."""
    return files(__name__)
