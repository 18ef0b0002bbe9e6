"""A whole run: check the targets, then for each load level each target in turn.

Targets run one after another at each level, never at once, so they do not compete for the
machine; the order is the one given (through one Stratum instance, forced-tier requests
feed its latency estimates too, so put the routed target first).

    >>> config = BenchConfig((Target("low", "http://127.0.0.1:8081/v1"),), requests=5)
    >>> result = asyncio.run(run_bench(config))  # doctest: +SKIP
"""

from __future__ import annotations

import datetime
import math
import random
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

import aiohttp

from adaptive_router.bench.client import Job, RequestOptions, send_request
from adaptive_router.bench.config import BenchConfig, Target
from adaptive_router.bench.load import Phase, Send, closed_loop, open_loop
from adaptive_router.bench.progress import NoProgress, Progress
from adaptive_router.bench.records import RequestRecord
from adaptive_router.bench.stats import Aggregate, aggregate
from adaptive_router.bench.workloads import Workload, WorkloadSpec, build_workload
from adaptive_router.errors import TargetError
from adaptive_router.tiers import TIER_HIGH

CHECK_TIMEOUT_S = 5.0


@dataclass(frozen=True, slots=True)
class BenchResult:
    """Everything a run produced: its config, the aggregates and every raw record."""

    config: BenchConfig
    aggregates: list[Aggregate]
    records: list[RequestRecord]
    started_at: str
    duration_s: float
    complete: bool = True  # False: a checkpoint of a run still going (or interrupted)


def level_label(level: float, open_loop: bool) -> str:
    """``c=10`` for a concurrency, ``2 req/s`` for a Poisson rate."""
    return f"{level:g} req/s" if open_loop else f"c={level:g}"


def summary_line(agg: Aggregate, open_loop: bool) -> str:
    """One finished target and level in a line: TTFT, throughput, errors, tier_high share."""
    ttft = f"TTFT p50 {agg.ttft.p50 * 1000:.0f} ms, p99 {agg.ttft.p99 * 1000:.0f} ms"
    if not agg.ttft.count:
        ttft = "no TTFT (every request failed)"
    line = (
        f"{agg.target}  {level_label(agg.level, open_loop)}  done: {ttft}; "
        f"{agg.output_tokens_per_s:.1f} out tok/s; {agg.errors} error(s)"
    )
    if agg.tier_share:
        line += f"; tier_high {agg.tier_share.get(TIER_HIGH, 0.0):.0%}"
    return line


def workload_spec(config: BenchConfig) -> WorkloadSpec:
    """The workload a config asks for."""
    return WorkloadSpec(
        kind=config.workload,
        warmup=config.warmup,
        measured=config.prompt_count - config.warmup,
        seed=config.seed,
        data_dir=config.data_dir,
        input_tokens=config.input_tokens,
        hard_share=config.hard_share,
        max_prompt_chars=config.max_prompt_chars,
    )


def request_options(config: BenchConfig) -> RequestOptions:
    """What every request of the run sends besides its prompt."""
    return RequestOptions(
        api=config.api,
        max_tokens=config.output_tokens,
        ignore_eos=config.ignore_eos,
        temperature=config.temperature,
        timeout_s=config.timeout_s,
        api_key=config.api_key,
        run_tag=secrets.token_hex(4) if config.unique_prefix else "",
    )


async def run_bench(
    config: BenchConfig,
    progress: Progress | None = None,
    checkpoint: Callable[[BenchResult], None] | None = None,
) -> BenchResult:
    """Run every level against every target; raises TargetError before any load is sent.

    ``checkpoint`` gets the result so far (``complete=False``) after each target and level,
    so that an interrupted run keeps what it measured.
    """
    bar = progress or NoProgress()
    workload = build_workload(workload_spec(config))
    await check_targets(config.targets)
    started_at = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
    began = time.perf_counter()
    aggregates: list[Aggregate] = []
    records: list[RequestRecord] = []
    try:
        for level in config.levels:
            for target in config.targets:
                phase = await run_level(config, target, level, workload, bar)
                records.extend(phase.records)
                aggregates.append(aggregate(target.name, level, phase.records, phase.wall_s))
                bar.note(summary_line(aggregates[-1], config.open_loop))
                if checkpoint is not None:
                    elapsed = time.perf_counter() - began
                    checkpoint(
                        BenchResult(config, [*aggregates], [*records], started_at, elapsed, False)
                    )
    finally:
        bar.close()
    return BenchResult(config, aggregates, records, started_at, time.perf_counter() - began)


async def check_targets(targets: tuple[Target, ...]) -> None:
    """Fail fast, with one clear line, when a target cannot be connected to."""
    timeout = aiohttp.ClientTimeout(total=CHECK_TIMEOUT_S)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        for target in targets:
            try:
                async with session.get(target.url + "/models") as response:
                    await response.read()  # any HTTP answer will do: the server is there
            except (aiohttp.ClientError, OSError, TimeoutError) as exc:
                why = str(exc) or type(exc).__name__
                raise TargetError(
                    f"target {target.name!r} ({target.url}) is unreachable: {why}"
                ) from None


async def run_level(
    config: BenchConfig, target: Target, level: float, workload: Workload, bar: Progress
) -> Phase:
    """Warm-up (kept in the records, flagged) then the measured phase of one target."""
    options = request_options(config)
    label = f"{target.name}  {level_label(level, config.open_loop)}"
    users = max(1, math.ceil(level))
    # A fresh connection per request by default (as vLLM's benchmark_serving does): a server
    # closing a kept-alive connection (llama-server does after every streamed answer) would
    # otherwise fail the request that reuses it, and every target pays the same connect.
    connector = aiohttp.TCPConnector(limit=0, force_close=not config.keep_alive)
    async with aiohttp.ClientSession(connector=connector) as session:
        t0 = time.perf_counter()

        async def send(job: Job) -> RequestRecord:
            return await send_request(session, job, options, t0)

        warm: list[RequestRecord] = []
        if workload.warmup:
            prompts = workload.warmup
            bar.start(f"{label}  warm-up", len(prompts))
            warm = (
                await closed_loop(
                    send, lambda i: Job(target, prompts[i], level, i, True),
                    min(users, len(prompts)), len(prompts), progress=bar,
                )
            ).records  # fmt: skip
            _check_answers(target, warm)
        bar.start(label, config.requests)
        phase = await _measure(config, target, level, workload, send, bar)
    return Phase(warm + phase.records, phase.wall_s)


async def _measure(
    config: BenchConfig, target: Target, level: float, workload: Workload, send: Send, bar: Progress
) -> Phase:
    measured = workload.measured

    def make_job(index: int) -> Job:
        return Job(target, measured[index % len(measured)], level, index, False)

    if config.open_loop:
        rng = random.Random(config.seed)  # the same arrival times for every target
        return await open_loop(send, make_job, level, rng, config.requests, config.duration_s, bar)
    users = max(1, math.ceil(level))
    return await closed_loop(send, make_job, users, config.requests, config.duration_s, bar)


def _check_answers(target: Target, records: list[RequestRecord]) -> None:
    """Stop the run when every warm-up request got the same client error (wrong model...)."""
    errors = {r.error for r in records}
    if records and len(errors) == 1 and (error := errors.pop()) and error.startswith("HTTP 4"):
        raise TargetError(f"target {target.name!r} ({target.url}) rejects the requests: {error}")
