"""200 users on one box: what the router adds to 200 concurrent streams, and a soak run.

    .venv/bin/python benchmarks/relay_load.py                   # about 3 minutes
    .venv/bin/python benchmarks/relay_load.py --users 200 --tokens 300 --rounds 3
    .venv/bin/python benchmarks/relay_load.py --soak-s 600      # 10 minutes at 200 streams

``--users`` closed-loop users (200), their starts spread over one answer's length as real
users arrive (not in one burst), each send a ShareGPT prompt (the package's bundled prompts,
``adaptive_router.data``), model "auto" so the scorer and the rule chain run, and read the
streamed answer: ``--tokens`` content events (300) ``--gap-ms`` apart (30 ms, about 33
tokens/s) from a paced fake engine (``adaptive_router.bench.fake_engine``, its own process).
``direct`` (to the engine) and ``stratum`` (the router in front of it, its own process) take
turns for ``--phase-s`` each, ``--rounds`` times. Reported per target: the requests answered
and the errors (a status other than 200, a stream without [DONE] or with an error event:
must be 0), TTFT p50 and p99, inter-token latency (ITL, the gap between consecutive content
events as the client reads them) p99, and, for stratum, the router's CPU in cores (all its
processes, from /proc). Then the added TTFT p50/p99 and ITL p99 (stratum minus direct), as
medians over the rounds.

``--soak-s`` runs only stratum for that long and samples its RSS, open file descriptors and
live asyncio tasks every 10 s; after the load it waits for the connections to close and
compares: RSS growth after a warm-up (the first 10 % of the run) must stay under 10 %, and
fds and tasks must come back to their level before the load.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import signal
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

from _common import fmt, median
from _proxy_targets import Target, child, cpu_s, descendants, rss_mb
from adaptive_router.bench import fake_engine
from adaptive_router.bench.client import Job, RequestOptions, send_request
from adaptive_router.bench.config import Target as BenchTarget
from adaptive_router.bench.fake_engine import free_port, new_loop
from adaptive_router.bench.stats import percentile
from adaptive_router.bench.workloads import Prompt, sharegpt_prompts
from adaptive_router.data import bundled
from adaptive_router.proxy.server import sigterm_as_interrupt

PROBE = Path(__file__).with_name("_router_probe.py")
# what is compared, Stratum minus direct: (label, percentile, Phase attribute)
_ADDED = (("TTFT p50", 50, "ttft_s"), ("TTFT p99", 99, "ttft_s"), ("ITL p99", 99, "itl_s"))


@dataclass(frozen=True)
class Options:
    users: int
    tokens: int
    gap_ms: float
    phase_s: float
    rounds: int
    soak_s: float


@dataclass
class Phase:
    """One target for one phase: what the clients saw, and the router's CPU."""

    ttft_s: list[float] = field(default_factory=list)
    itl_s: list[float] = field(default_factory=list)
    ok: int = 0
    errors: dict[str, int] = field(default_factory=dict)
    cores: float | None = None


def start(stack: contextlib.ExitStack, opts: Options, logs: Path) -> tuple[Target, Target, Path]:
    port = free_port()
    cmd = [sys.executable, fake_engine.__file__, "--port", str(port), "--name", "tok"]
    cmd += ["--chunks", str(opts.tokens), "--gap-ms", str(opts.gap_ms)]
    upstream = f"http://127.0.0.1:{port}/v1"
    engine = stack.enter_context(child(cmd, upstream + "/models", logs))
    probe = logs / "tasks"
    router_port = free_port()
    cmd = [sys.executable, str(PROBE), str(probe), "--tier-low-url", upstream]
    cmd += ["--tier-high-url", upstream, "--port", str(router_port)]
    cmd += ["--vram-poll-interval-ms", "0"]
    router = stack.enter_context(child(cmd, f"http://127.0.0.1:{router_port}/health", logs))
    direct = Target("direct", upstream, [engine])
    stratum = Target("stratum", f"http://127.0.0.1:{router_port}/v1", descendants(router))
    return direct, stratum, probe


async def users(
    session: aiohttp.ClientSession, target: Target, opts: Options, seconds: float
) -> Phase:
    """``opts.users`` closed-loop users for ``seconds`` (each finishes its last stream)."""
    prompts = sharegpt_prompts(bundled())
    options = RequestOptions(max_tokens=opts.tokens, timeout_s=120.0)
    bench_target = BenchTarget(name=target.name, url=target.url, model="auto")
    phase, deadline = Phase(), time.perf_counter() + seconds
    rng = random.Random(0)

    async def user(n: int) -> None:
        # users start spread over one answer's length, as real ones arrive, not in one burst
        await asyncio.sleep(n * opts.tokens * opts.gap_ms / 1e3 / opts.users)
        i = 0
        while time.perf_counter() < deadline:
            prompt: Prompt = rng.choice(prompts)
            job = Job(bench_target, prompt, float(opts.users), n * 10_000 + i, warmup=False)
            record = await send_request(session, job, options, 0.0)
            i += 1
            if record.error is not None:
                key = record.error.split(":")[0]
                phase.errors[key] = phase.errors.get(key, 0) + 1
                continue
            phase.ok += 1
            assert record.ttft_s is not None
            phase.ttft_s.append(record.ttft_s)
            phase.itl_s.extend(record.itl_s)

    before, began = cpu_s(target.pids), time.perf_counter()
    await asyncio.gather(*(user(n) for n in range(opts.users)))
    after = cpu_s(target.pids)
    if target.name != "direct" and before is not None and after is not None:
        phase.cores = (after - before) / (time.perf_counter() - began)
    return phase


def ms(values: list[float], q: float) -> float | None:
    return 1e3 * percentile(values, q) if values else None


def row(name: str, r: int, phase: Phase) -> str:
    errors = sum(phase.errors.values())
    detail = f" ({phase.errors})" if errors else ""
    cells = [
        f"{r + 1}", name, str(phase.ok), f"{errors}{detail}",
        fmt(ms(phase.ttft_s, 50), ".1f"), fmt(ms(phase.ttft_s, 99), ".1f"),
        fmt(ms(phase.itl_s, 99), ".1f"), fmt(phase.cores, ".2f"),
    ]  # fmt: skip
    return "| " + " | ".join(cells) + " |"


async def compare(direct: Target, stratum: Target, opts: Options) -> None:
    print("| round | target | answered | errors | TTFT p50 ms | TTFT p99 ms | ITL p99 ms | cores |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    added: dict[str, list[float]] = {label: [] for label, _, _ in _ADDED}
    cores: list[float] = []
    errors = 0
    connector = aiohttp.TCPConnector(limit=0, keepalive_timeout=3)
    async with aiohttp.ClientSession(connector=connector) as session:
        for r in range(opts.rounds):
            order = (direct, stratum) if r % 2 == 0 else (stratum, direct)
            phases = {}
            for target in order:
                phases[target.name] = await users(session, target, opts, opts.phase_s)
                print(row(target.name, r, phases[target.name]), flush=True)
            d, s = phases["direct"], phases["stratum"]
            errors += sum(d.errors.values()) + sum(s.errors.values())
            for label, q, attr in _ADDED:
                a, b = ms(getattr(s, attr), q), ms(getattr(d, attr), q)
                if a is not None and b is not None:
                    added[label].append(a - b)
            if s.cores is not None:
                cores.append(s.cores)
    print(f"\nStratum minus direct, medians over {opts.rounds} rounds (min to max):")
    for label, values in added.items():
        spread = f" ({min(values):+.1f} to {max(values):+.1f})" if values else ""
        print(f"- added {label}: {fmt(median(values), '+.1f')} ms{spread}")
    print(f"- router CPU: {fmt(median(cores), '.2f')} cores (median over rounds)")
    print(f"- errors, both targets, every round: {errors} (must be 0)")


async def soak(stratum: Target, probe: Path, opts: Options) -> None:
    def sample() -> tuple[float, int, int]:
        pid = stratum.pids[0]
        fds = len(os.listdir(f"/proc/{pid}/fd"))
        tasks = int(probe.read_text() or 0) if probe.exists() else -1
        return rss_mb(stratum.pids) or 0.0, fds, tasks

    await asyncio.sleep(2.0)
    rss0, fds0, tasks0 = sample()
    print(f"before the load: RSS {rss0:.1f} MB, {fds0} fds, {tasks0} asyncio tasks")
    samples: list[tuple[float, float, int, int]] = []
    began = time.perf_counter()

    async def watch() -> None:
        while True:
            await asyncio.sleep(10.0)
            rss, fds, tasks = sample()
            samples.append((time.perf_counter() - began, rss, fds, tasks))
            print(
                f"{samples[-1][0]:6.0f} s: RSS {rss:.1f} MB, {fds} fds, {tasks} tasks", flush=True
            )

    watcher = asyncio.create_task(watch())
    connector = aiohttp.TCPConnector(limit=0, keepalive_timeout=3)
    async with aiohttp.ClientSession(connector=connector) as session:
        phase = await users(session, stratum, opts, opts.soak_s)
    watcher.cancel()
    await asyncio.sleep(8.0)  # idle: pooled connections expire (4 s), tasks end
    rss1, fds1, tasks1 = sample()
    warm = [s[1] for s in samples if s[0] >= 0.1 * opts.soak_s]
    growth = 100 * (max(warm) - warm[0]) / warm[0] if warm else None
    errors = sum(phase.errors.values())
    print(f"\nanswered {phase.ok}, errors {errors} {phase.errors or ''}")
    if warm:
        print(
            f"RSS after warm-up {warm[0]:.1f} MB, peak {max(warm):.1f} MB: growth "
            f"{fmt(growth, '.1f')} % (must be < 10 %)"
        )
    print(
        f"after the load: RSS {rss1:.1f} MB, {fds1} fds (before: {fds0}), {tasks1} asyncio "
        f"tasks (before: {tasks0})"
    )


def parse_args(argv: list[str] | None = None) -> Options:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add = parser.add_argument
    add("--users", type=int, default=200, help="concurrent streams (default: %(default)s)")
    add("--tokens", type=int, default=300, help="content events per answer (default: %(default)s)")
    add("--gap-ms", type=float, default=30.0, help="between events (default: %(default)s)")
    add("--phase-s", type=float, default=25.0, help="per target and round (default: %(default)s)")
    add("--rounds", type=int, default=3, help="(default: %(default)s)")
    add("--soak-s", type=float, default=0.0, help="soak instead, this long (default: off)")
    args = parser.parse_args(argv)
    if min(args.users, args.tokens, args.rounds) < 1 or args.phase_s <= 0 or args.soak_s < 0:
        parser.error("--users, --tokens, --rounds and --phase-s must be positive")
    return Options(args.users, args.tokens, args.gap_ms, args.phase_s, args.rounds, args.soak_s)


def main(argv: list[str] | None = None) -> None:
    opts = parse_args(argv)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with sigterm_as_interrupt(), contextlib.ExitStack() as stack:
            logs = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="load-")))
            direct, stratum, probe = start(stack, opts, logs)
            print(
                f"# {opts.users} users, ShareGPT prompts, {opts.tokens} tokens "
                f"{opts.gap_ms:g} ms apart; {os.cpu_count()} cores shared by the engine, the "
                f"router and this load generator; load average {os.getloadavg()[0]:.1f}\n"
            )
            with asyncio.Runner(loop_factory=new_loop) as runner:
                if opts.soak_s:
                    runner.run(soak(stratum, probe, opts))
                else:
                    runner.run(compare(direct, stratum, opts))
    except KeyboardInterrupt:
        raise SystemExit("interrupted") from None


if __name__ == "__main__":
    main()
