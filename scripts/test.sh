#!/usr/bin/env bash
# The whole test suite, exactly as CI runs it: a virtualenv in .venv, the package with its
# test extras, then ruff (lint + format), mypy --strict and pytest. Extra arguments go to
# pytest, e.g. `bash scripts/test.sh -k router -x`.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/_venv.sh
ensure_venv ".[test]"

# The status-page test drives Debian's chromium headless (Playwright cannot download a
# browser here). Install it when missing and we may.
if ! command -v chromium >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "== installing chromium (apt-get)"
        apt-get update -qq && apt-get install -y -qq chromium >/dev/null
    else
        echo "note: chromium is missing; the browser test will be skipped" >&2
        echo "      (install it with: sudo apt-get install chromium)" >&2
    fi
fi

static_checks
echo "== pytest"
.venv/bin/python -m pytest "$@"
