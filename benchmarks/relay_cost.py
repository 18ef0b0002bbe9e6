"""Router CPU per streamed request and per relayed chunk: direct, Stratum and LiteLLM, one run.

    .venv/bin/python benchmarks/relay_cost.py
    .venv/bin/python benchmarks/relay_cost.py --repeats 5 --duration-s 15
    .venv/bin/python benchmarks/relay_cost.py --litellm .bench-venvs/litellm/bin/litellm
    git archive HEAD~3 src | tar -x -C /tmp/before   # then, before and after in one run:
    .venv/bin/python benchmarks/relay_cost.py --baseline /tmp/before/src

Two paced fake engines (``adaptive_router.bench.fake_engine``, each its own process) stream
every answer at ``--gap-ms`` between events (30 ms: about 33 tokens/s): the *short* one
``--short-chunks`` content events (16), the *long* one ``--long-chunks`` (200). Each target
gets its own pair of upstreams: Stratum (``python -m adaptive_router.middleware``, model
"auto", so the scorer and the rule chain run on every request) and LiteLLM's proxy (when its
binary is found) in front of each engine, and ``direct`` to the engines themselves.

``--users`` closed-loop streaming clients (200) keep that many requests in flight for
``--duration-s`` per cell, after a warm-up that is not counted; the targets take turns
(forwards, then backwards) ``--repeats`` times so that they share the machine's noise. CPU
time (user + system) is read from /proc for every process of the router under test, before
and after each cell. From the two shapes:

- CPU per short request: router CPU / requests answered, short engine;
- CPU per further chunk: (CPU per long request - CPU per short request) / (long - short chunks);
- fixed CPU per request: CPU per short request - short chunks x CPU per chunk.

It prints each cell, then the medians over the repeats with their spread (min-max), and writes
the raw figures to ``--out`` as JSON. For ``direct`` the CPU shown is the engine's (there is no
router): it says what the same work costs an aiohttp server. Errors (a status other than 200,
a stream cut short, lost content events) are counted and must be 0.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import secrets
import shutil
import signal
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import orjson

from _common import abba, environment, fmt, median
from _proxy_targets import Target, child, cpu_s, start_litellm, start_stratum
from adaptive_router.bench import fake_engine
from adaptive_router.bench.fake_engine import free_port, new_loop
from adaptive_router.proxy.server import sigterm_as_interrupt
from adaptive_router.stack import litellm
from adaptive_router.stack.venvs import venv_bin, venv_root
from proxy_overhead import Load, closed_loop, request_body

DEFAULT_LITELLM = Path(__file__).resolve().parents[1] / ".bench-venvs/litellm/bin/litellm"
DEFAULT_OUT = Path(tempfile.gettempdir()) / "stratum-relay-cost.json"
SHAPES = ("short", "long")


@dataclass(frozen=True)
class Options:
    users: int
    duration_s: float
    warmup_s: float
    repeats: int
    short_chunks: int
    long_chunks: int
    gap_ms: float
    litellm: Path | None
    baseline: Path | None
    out: Path


@dataclass
class Figures:
    """One target and shape, one cell per repeat: CPU seconds, requests, errors."""

    cpu_s: list[float] = field(default_factory=list)
    requests: list[int] = field(default_factory=list)
    errors: list[int] = field(default_factory=list)
    wall_s: list[float] = field(default_factory=list)

    def per_request_us(self) -> list[float]:
        return [1e6 * c / n for c, n in zip(self.cpu_s, self.requests, strict=True) if n]


def litellm_binary(given: Path | None) -> Path | None:
    """The LiteLLM binary to run: the one given, else the one ``stratum up --with litellm``
    installed, else .bench-venvs/litellm's, else PATH's."""
    if given is not None:
        return given if given.exists() else None
    stack = venv_bin(litellm.SPEC, venv_root(), "litellm")
    for candidate in (stack, DEFAULT_LITELLM):
        if candidate.exists():
            return candidate
    found = shutil.which("litellm")
    return Path(found) if found else None


def start_shape(
    stack: contextlib.ExitStack, chunks: int, opts: Options, logs: Path, key: str
) -> dict[str, Target]:
    """A paced engine streaming ``chunks`` events, and each proxy in front of it."""
    port = free_port()
    cmd = [sys.executable, fake_engine.__file__, "--port", str(port)]
    cmd += ["--chunks", str(chunks), "--gap-ms", str(opts.gap_ms)]
    upstream = f"http://127.0.0.1:{port}/v1"
    pid = stack.enter_context(child(cmd, upstream + "/models", logs))
    targets = {"direct": Target("direct", upstream, [pid])}
    if opts.baseline is not None:
        targets["before"] = start_stratum(
            stack, upstream, logs, name="before", source=opts.baseline
        )
    targets["stratum"] = start_stratum(stack, upstream, logs)
    binary = litellm_binary(opts.litellm)
    if binary is not None:
        litellm = start_litellm(stack, upstream, logs, binary.parent.parent, key)
        if litellm is not None:
            targets["litellm"] = litellm
    return targets


async def measure(load: Load, target: Target, opts: Options) -> tuple[float, int, int, float]:
    """(router CPU s, requests answered, errors, wall s) of one cell, after a warm-up."""
    url = target.url + "/chat/completions"
    await closed_loop(load, url, opts.users, opts.users, opts.warmup_s)
    before = cpu_s(target.pids) or 0.0
    cell = await closed_loop(load, url, opts.users, 10**9, opts.duration_s)
    after = cpu_s(target.pids) or 0.0
    return after - before, cell.ok, sum(cell.errors.values()), cell.wall_s


async def run_cells(
    shapes: dict[str, dict[str, Target]], opts: Options, key: str
) -> dict[str, dict[str, Figures]]:
    main_task = asyncio.current_task()
    assert main_task is not None
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, main_task.cancel)
    names = list(shapes["short"])
    results = {name: {shape: Figures() for shape in SHAPES} for name in names}
    headers = {"content-type": "application/json", "authorization": f"Bearer {key}"}
    connector = aiohttp.TCPConnector(limit=0, keepalive_timeout=3)
    timeout = aiohttp.ClientTimeout(total=120)
    chunks = {"short": opts.short_chunks, "long": opts.long_chunks}
    print("| round | target | shape | requests | errors | router CPU ms/req | cores |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        for r, name in abba(names, opts.repeats):
            for shape in SHAPES:
                load = Load(session, request_body(), headers, chunks[shape])
                cpu, ok, errors, wall = await measure(load, shapes[shape][name], opts)
                figures = results[name][shape]
                figures.cpu_s.append(cpu)
                figures.requests.append(ok)
                figures.errors.append(errors)
                figures.wall_s.append(wall)
                per = f"{1e3 * cpu / ok:.3f}" if ok else "-"
                print(
                    f"| {r + 1} | {name} | {shape} | {ok} | {errors} | {per} | {cpu / wall:.2f} |",
                    flush=True,
                )
    return results


def derived(figures: dict[str, Figures], opts: Options) -> dict[str, list[float]]:
    """Per repeat: CPU per short request, per further chunk and fixed, in microseconds."""
    short, long = figures["short"].per_request_us(), figures["long"].per_request_us()
    extra = opts.long_chunks - opts.short_chunks
    per_chunk = [(b - a) / extra for a, b in zip(short, long, strict=False)]
    fixed = [a - opts.short_chunks * c for a, c in zip(short, per_chunk, strict=False)]
    return {"per_short_request_us": short, "per_chunk_us": per_chunk, "fixed_us": fixed}


def spread(values: list[float]) -> str:
    if not values:
        return "n/r"
    return f"{fmt(median(values))} ({min(values):.0f}-{max(values):.0f})"


def report(results: dict[str, dict[str, Figures]], opts: Options) -> dict[str, dict[str, Any]]:
    print(
        f"\nMedians over {opts.repeats} repeats (min-max), microseconds of CPU, all processes "
        f"of the router (direct: of the engine), {opts.users} users:"
    )
    print("| target | per short request | per further chunk | fixed per request | errors |")
    print("| --- | --- | --- | --- | --- |")
    summary: dict[str, dict[str, Any]] = {}
    for name, figures in results.items():
        d = derived(figures, opts)
        errors = sum(sum(f.errors) for f in figures.values())
        summary[name] = {**d, "errors": errors}
        cells = [spread(d["per_short_request_us"]), spread(d["per_chunk_us"])]
        print(f"| {name} | {cells[0]} | {cells[1]} | {spread(d['fixed_us'])} | {errors} |")
    if "litellm" in summary:
        print_ratio(summary, "litellm", "stratum")
    if "before" in summary:
        print_ratio(summary, "stratum", "before")
    return summary


def print_ratio(summary: dict[str, dict[str, Any]], top: str, bottom: str) -> None:
    """The median over repeats of ``top``'s CPU over ``bottom``'s (same repeat)."""
    for key, label in (("per_short_request_us", "short request"), ("per_chunk_us", "chunk")):
        pairs = zip(summary[top][key], summary[bottom][key], strict=False)
        ratios = [a / b for a, b in pairs if b > 0]
        print(f"{top} / {bottom} CPU per {label}: median {fmt(median(ratios), '.2f')}x")


def parse_args(argv: list[str] | None = None) -> Options:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add = parser.add_argument
    add("--users", type=int, default=200, help="concurrent streams (default: %(default)s)")
    add("--duration-s", type=float, default=12.0, help="per cell (default: %(default)s)")
    add("--warmup-s", type=float, default=1.0, help="uncounted, per cell (default: %(default)s)")
    add("--repeats", type=int, default=3, help="rounds of every cell (default: %(default)s)")
    add("--short-chunks", type=int, default=16, help="(default: %(default)s)")
    add("--long-chunks", type=int, default=200, help="(default: %(default)s)")
    add("--gap-ms", type=float, default=30.0, help="between events (default: %(default)s)")
    add(
        "--litellm",
        type=Path,
        help="the litellm binary (default: the one stratum up --with litellm installed, else "
        ".bench-venvs/litellm/bin/litellm, else litellm on PATH; LiteLLM is skipped with a "
        "note when none is found)",
    )
    add(
        "--baseline",
        type=Path,
        help="a src folder of another Stratum version (git archive REV src): measured too, as "
        "'before'",
    )
    add("--out", type=Path, default=DEFAULT_OUT, help="raw figures, JSON (default: %(default)s)")
    args = parser.parse_args(argv)
    if min(args.users, args.repeats, args.short_chunks) < 1 or args.duration_s <= 0:
        parser.error("--users, --repeats, --short-chunks and --duration-s must be positive")
    if args.long_chunks <= args.short_chunks:
        parser.error("--long-chunks must be more than --short-chunks")
    return Options(
        args.users, args.duration_s, args.warmup_s, args.repeats, args.short_chunks,
        args.long_chunks, args.gap_ms, args.litellm, args.baseline, args.out,
    )  # fmt: skip


def main(argv: list[str] | None = None) -> None:
    opts = parse_args(argv)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    key = "sk-" + secrets.token_hex(16)
    try:
        with sigterm_as_interrupt(), contextlib.ExitStack() as stack:
            logs = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="relay-")))
            if litellm_binary(opts.litellm) is None:
                print("note: LiteLLM skipped: no litellm binary found (see --litellm)")
            chunks = {"short": opts.short_chunks, "long": opts.long_chunks}
            shapes = {s: start_shape(stack, chunks[s], opts, logs, key) for s in SHAPES}
            print(
                f"# Relay cost: {opts.users} users, events {opts.gap_ms:g} ms apart, short = "
                f"{opts.short_chunks} and long = {opts.long_chunks} content events; "
                f"{os.cpu_count()} cores shared by engines, routers and this load generator; "
                f"load average {os.getloadavg()[0]:.1f} at start\n"
            )
            began = time.monotonic()
            with asyncio.Runner(loop_factory=new_loop) as runner:
                results = runner.run(run_cells(shapes, opts, key))
            summary = report(results, opts)
            print(f"\n{time.monotonic() - began:.0f} s; load average {os.getloadavg()[0]:.1f}")
    except KeyboardInterrupt:
        raise SystemExit("interrupted") from None
    document = {"environment": environment(opts), "summary": summary}
    opts.out.parent.mkdir(parents=True, exist_ok=True)
    opts.out.write_bytes(orjson.dumps(document, option=orjson.OPT_INDENT_2))
    print(f"raw figures: {opts.out}")


if __name__ == "__main__":
    main()
