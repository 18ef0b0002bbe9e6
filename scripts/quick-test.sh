#!/usr/bin/env bash
# The quick path for contributors, about a minute: everything but the tests that need the
# real engine (llama-server) or a browser. The package with its `dev` extra only (not
# `stack`, so no 16-minute llama.cpp build) in .venv, then ruff (lint + format), mypy
# --strict and pytest -m "not engine and not browser". Extra arguments go to pytest, e.g.
# `bash scripts/quick-test.sh -k router -x`.
# The whole suite, as CI runs it, stays `bash scripts/test.sh` (same .venv, plus the stack).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/_venv.sh
ensure_venv ".[dev]"

static_checks
echo "== pytest (not engine, not browser)"
.venv/bin/python -m pytest -m "not engine and not browser" "$@"
