"""The routing decision's time per request, this tree against another one, in one run.

    python benchmarks/routing_time.py --baseline OTHER_CHECKOUT/src [--rounds 6]

``OTHER_CHECKOUT`` is a checkout of the commit to compare with (``git worktree add DIR
COMMIT``). Each round starts one child process per variant, in ABBA order so that the
machine's drift hits all alike; a child routes every bundled ShareGPT prompt (as a chat:
a system prompt and the user's message) 7 times and reports each prompt's median time of
``AdaptiveRouter.explain``. A prompt's time is its median over the rounds; p50 and p99 are
taken over prompts. Variants:

- ``baseline``: ``explain(messages)`` in the other tree;
- ``this``: ``explain(messages)`` here, default settings (every rule of the chain runs;
  sessions and the live threshold are idle without a session or a target);
- ``this, all on``: as the proxy calls it here, with a session id per conversation (every
  prompt its own, so the store grows and evicts), ``max_tokens`` per tier, both context
  windows set (the context rule computes) and ``target_high_share`` 0.2 (the window moves).

No GPU is read (``vram_poll_interval_ms`` 0) and no engine is polled, in both trees.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from _common import abba, median  # noqa: E402
from adaptive_router.bench.stats import percentile  # noqa: E402
from adaptive_router.bench.workloads import sharegpt_prompts  # noqa: E402
from adaptive_router.data import bundled  # noqa: E402

CHILD = """
import json, statistics, sys, time
sys.path.insert(0, sys.argv[1])
from adaptive_router import AdaptiveRouter, RoutingConfig
mode, texts = sys.argv[2], json.loads(sys.stdin.read())
settings = {"vram_poll_interval_ms": 0}
if mode == "all_on":
    settings.update(target_high_share=0.2, tier_low_context_tokens=8192,
                    tier_high_context_tokens=32768, session_max=1000)
router = AdaptiveRouter(RoutingConfig.from_mapping(settings))
limits = {"tier_low": 512, "tier_high": 2048}
out = []
for i, text in enumerate(texts):
    messages = [{"role": "system", "content": "You are a helpful assistant."},
                {"role": "user", "content": text}]
    if mode == "all_on":
        call = lambda: router.explain(messages, session=f"s{i}", max_tokens=limits)
    else:
        call = lambda: router.explain(messages)
    call()
    times = []
    for _ in range(7):
        start = time.perf_counter_ns()
        call()
        times.append(time.perf_counter_ns() - start)
    out.append(statistics.median(times))
router.close()
print(json.dumps(out))
"""


def run_child(src: Path, mode: str, texts: list[str]) -> list[float]:
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(src), mode],
        input=json.dumps(texts), capture_output=True, text=True, check=True,
    )  # fmt: skip
    return [float(ns) for ns in json.loads(done.stdout)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--baseline", type=Path, required=True,
                        help="the src/ folder of the checkout to compare with")  # fmt: skip
    parser.add_argument("--rounds", type=int, default=6, help="child runs per variant")
    args = parser.parse_args()
    if not (args.baseline / "adaptive_router").is_dir():
        parser.error(f"{args.baseline} has no adaptive_router package")
    texts = [p.text for p in sharegpt_prompts(bundled())]
    variants = {
        "baseline": (args.baseline, "plain"),
        "this": (ROOT / "src", "plain"),
        "this, all on": (ROOT / "src", "all_on"),
    }
    runs: dict[str, list[list[float]]] = {name: [] for name in variants}
    for r, name in abba(list(variants), args.rounds):
        print(f"round {r + 1}/{args.rounds}: {name}", file=sys.stderr)
        runs[name].append(run_child(*variants[name], texts))
    per_prompt = {
        name: [median(times[i] for times in rounds) or 0.0 for i in range(len(texts))]
        for name, rounds in runs.items()
    }
    base = per_prompt["baseline"]
    print(f"\n{len(texts)} ShareGPT prompts, {args.rounds} rounds; time of explain() in us")
    print("| variant | p50 | p99 | added p50 | added p99 |")
    print("|---|---:|---:|---:|---:|")
    for name, times in per_prompt.items():
        p50, p99 = percentile(times, 50) / 1e3, percentile(times, 99) / 1e3
        added = [t - b for t, b in zip(times, base, strict=True)]
        a50, a99 = percentile(added, 50) / 1e3, percentile(added, 99) / 1e3
        print(f"| {name} | {p50:.1f} | {p99:.1f} | {a50:+.1f} | {a99:+.1f} |")


if __name__ == "__main__":
    main()
