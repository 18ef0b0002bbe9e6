"""Load benchmark of OpenAI-compatible endpoints: the same command as ``stratum bench``.

    .venv/bin/python benchmarks/bench.py --help
    .venv/bin/python benchmarks/bench.py --preset routing-question \
        --router-url http://127.0.0.1:9000/v1 --out /tmp/routing-question

See ``src/adaptive_router/bench`` for what is measured and how (TTFT as llmperf defines it).
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from adaptive_router.bench.cli import bench_command

if __name__ == "__main__":
    bench_command(prog_name="benchmarks/bench.py")
