"""How closely the live threshold gives tier_high its target share (``target_high_share``).

    python benchmarks/share_tracking.py [--requests 2000] [--window 500]

For each workload (ShareGPT and the mixed easy/hard set of ``stratum bench``, both bundled
with the package) and each target (0.1, 0.2, 0.5), a router with ``target_high_share`` set
routes a fixed sequence of prompts (the workload drawn with seed 0, cycled to
``--requests``). After the first 100 requests (warm-up) it prints:

- the share of tier_high over the rest, and its error against the target;
- the mean and worst error of the share in blocks of 100 requests (how steady it holds);
- with the static threshold (target 0), the share the same prompts get, for comparison.

Then the traffic shifts: ShareGPT for half the run, the mixed set (about twice as hard)
after, and it prints how many requests after the shift the share of the last 100 needed to
come back within 0.05 of the target, and the error over the second half's last 500.

Routing runs in-process with every built-in rule; no GPU is read, so the GPU rules abstain and
every request reaches the complexity rule. Deterministic: the same run gives the same figures.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from itertools import cycle, islice
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from adaptive_router import AdaptiveRouter, RoutingConfig  # noqa: E402
from adaptive_router.bench.workloads import WorkloadSpec, build_workload  # noqa: E402

TARGETS = (0.1, 0.2, 0.5)
WARMUP = 100
BLOCK = 100


def prompts(kind: str, n: int) -> list[str]:
    drawn = build_workload(WorkloadSpec(kind, 0, min(n, 1000), seed=0)).measured
    return [p.text for p in islice(cycle(drawn), n)]


def route_all(texts: list[str], target: float, window: int) -> list[bool]:
    """True where a request went to tier_high."""
    config = RoutingConfig(target_high_share=target, share_window=window, vram_poll_interval_ms=0)
    with AdaptiveRouter(config) as router:
        return [router.route(text) == "tier_high" for text in texts]


def block_errors(high: list[bool], target: float) -> list[float]:
    blocks = [high[i : i + BLOCK] for i in range(0, len(high) - BLOCK + 1, BLOCK)]
    return [abs(sum(b) / len(b) - target) for b in blocks]


def steady(kind: str, texts: list[str], window: int) -> None:
    static = route_all(texts, 0.0, window)[WARMUP:]
    print(f"\n{kind}: {len(texts)} requests, static threshold share "
          f"{sum(static) / len(static):.3f}")  # fmt: skip
    print("| target | share | error | block error mean | block error max |")
    print("|---:|---:|---:|---:|---:|")
    for target in TARGETS:
        high = route_all(texts, target, window)[WARMUP:]
        share = sum(high) / len(high)
        errors = block_errors(high, target)
        print(
            f"| {target:.1f} | {share:.3f} | {abs(share - target):.3f} | "
            f"{statistics.mean(errors):.3f} | {max(errors):.3f} |"
        )


def shift(n: int, window: int) -> None:
    half = n // 2
    texts = prompts("sharegpt", half) + prompts("mixed", n - half)
    print(f"\nshift: {half} ShareGPT requests, then {n - half} mixed")
    print("| target | requests to recover (within 0.05) | share, last 500 | error |")
    print("|---:|---:|---:|---:|")
    for target in TARGETS:
        high = route_all(texts, target, window)
        recovered = next(
            (
                i - half
                for i in range(half + BLOCK, n + 1)
                if abs(sum(high[i - BLOCK : i]) / BLOCK - target) <= 0.05
            ),
            None,
        )
        tail = high[-500:]
        share = sum(tail) / len(tail)
        shown = "never" if recovered is None else str(recovered)
        print(f"| {target:.1f} | {shown} | {share:.3f} | {abs(share - target):.3f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=2000, help="requests per run")
    parser.add_argument("--window", type=int, default=RoutingConfig().share_window,
                        help="share_window: recent scores the threshold is taken from")  # fmt: skip
    args = parser.parse_args()
    print(f"share_window {args.window}; warm-up {WARMUP} requests left out; blocks of {BLOCK}")
    for kind in ("sharegpt", "mixed"):
        steady(kind, prompts(kind, args.requests), args.window)
    shift(args.requests, args.window)


if __name__ == "__main__":
    main()
