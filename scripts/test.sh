#!/usr/bin/env bash
# The whole test suite, exactly as CI runs it: a virtualenv in .venv, the package with its
# test extras, then ruff (lint + format), mypy --strict and pytest. Extra arguments go to
# pytest, e.g. `bash scripts/test.sh -k router -x`.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/_venv.sh
ensure_venv ".[test]"

echo "== ruff"
.venv/bin/ruff check src tests benchmarks
.venv/bin/ruff format --check src tests benchmarks
echo "== mypy"
.venv/bin/mypy
echo "== pytest"
.venv/bin/python -m pytest "$@"
