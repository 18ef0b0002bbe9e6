"""Every error Stratum raises on purpose.

    StratumError
     ├── ConfigError (also ValueError)   a setting is missing, malformed or out of range
     └── DataFileError (also ValueError) an input file (JSONL data set) cannot be used

Lower-layer errors (OSError, json, tomllib, yaml) are translated into these at the
boundary, so callers and the CLI catch one tree and print one clear line.
"""

from __future__ import annotations


class StratumError(Exception):
    """Base class of every error Stratum raises on purpose."""


class ConfigError(StratumError, ValueError):
    """A configuration value is invalid; the message names the field and what is allowed."""


class DataFileError(StratumError, ValueError):
    """An input data file cannot be used; the message names the file and the line."""

    def __init__(self, path: str, line: int | None, problem: str) -> None:
        where = f"{path}:{line}" if line is not None else path
        super().__init__(f"{where}: {problem}")
        self.path = path
        self.line = line
        self.problem = problem
