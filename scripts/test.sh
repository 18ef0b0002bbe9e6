#!/usr/bin/env bash
# The whole test suite, exactly as CI runs it: a virtualenv in .venv, the package with its
# test extras, then ruff (lint + format), mypy --strict and pytest. Extra arguments go to
# pytest, e.g. `bash scripts/test.sh -k router -x`.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/_venv.sh
ensure_venv ".[test]"

# The status-page test drives Debian's chromium headless (Playwright cannot download a
# browser here); the deploy tests run Debian's prometheus/promtool and shellcheck. Install
# what is missing when we may.
missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v prometheus >/dev/null 2>&1 || missing+=(prometheus)
command -v shellcheck >/dev/null 2>&1 || missing+=(shellcheck)
if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "== installing ${missing[*]} (apt-get)"
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
            apt-get install -y -qq "${missing[@]}" >/dev/null
    else
        echo "note: ${missing[*]} missing; the tests that need them will be skipped" >&2
        echo "      (install with: sudo apt-get install ${missing[*]})" >&2
    fi
fi

static_checks
echo "== pytest"
.venv/bin/python -m pytest "$@"
