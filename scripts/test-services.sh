#!/usr/bin/env bash
# The services suite: `stratum up --with litellm,openwebui,prometheus` around the real stack,
# with OpenWebUI driven in headless chromium. CI runs the LiteLLM and Prometheus tests (part
# of `bash scripts/test.sh`) but not OpenWebUI's: it is about 7 GB installed. Here the first
# run installs it (a few minutes) into ~/.cache/stratum/venvs; later runs take about 3 minutes.
# It saves the chat's screenshot as docs/img/openwebui.png. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/_venv.sh
ensure_venv ".[test]"
if ! command -v chromium >/dev/null 2>&1; then
    echo "error: the OpenWebUI test drives Debian's chromium: sudo apt-get install chromium" >&2
    exit 1
fi
base="$(mktemp -d)"
trap 'rm -rf "$base"' EXIT
echo "== pytest -m services (OpenWebUI included)"
STRATUM_TEST_OPENWEBUI=1 .venv/bin/python -m pytest -m services --basetemp "$base" "$@"
shot="$base/openwebui0/run/openwebui.png"
if [ -f "$shot" ]; then
    cp "$shot" docs/img/openwebui.png
    echo "screenshot: docs/img/openwebui.png"
fi
