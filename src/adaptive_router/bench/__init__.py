"""``stratum bench``: a load generator for any OpenAI-compatible endpoint.

Streams requests from a seeded workload (ShareGPT, synthetic, or mixed easy/hard) at
closed-loop concurrencies or open-loop Poisson rates, times each one (TTFT as llmperf
defines it, ITL, TPOT, E2E, output tokens, the tier that answered), aggregates p50/p95/p99
per target and level, and writes JSON, Markdown and PNG charts.

    >>> from adaptive_router.bench import BenchConfig, parse_target
    >>> config = BenchConfig((parse_target("low=http://127.0.0.1:8081/v1"),), requests=10)
    >>> config.levels
    (1.0, 10.0, 50.0)
"""

from adaptive_router.bench.config import BenchConfig, Target, parse_target
from adaptive_router.bench.records import TTFT_DEFINITION, RequestRecord
from adaptive_router.bench.runner import BenchResult, run_bench
from adaptive_router.bench.stats import Aggregate, percentile
from adaptive_router.errors import TargetError

__all__ = [
    "TTFT_DEFINITION",
    "Aggregate",
    "BenchConfig",
    "BenchResult",
    "RequestRecord",
    "Target",
    "TargetError",
    "parse_target",
    "percentile",
    "run_bench",
]
