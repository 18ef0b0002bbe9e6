"""What a proxy adds to a streamed answer: Stratum (and LiteLLM) vs calling the upstream directly.

Run it with the project's virtualenv (the proxy is started with the same interpreter):

    .venv/bin/python benchmarks/proxy_overhead.py
    .venv/bin/python benchmarks/proxy_overhead.py --concurrency 1,32 --duration-s 5
    .venv/bin/python benchmarks/proxy_overhead.py --litellm-venv /path/to/venv --out r.json

The package's paced fake engine (``adaptive_router.bench.fake_engine``, its own process, on
loopback) streams every answer as 16 chat.completion.chunk events 5 ms apart. Closed-loop
streaming clients (one aiohttp session in this process, its own event loop) keep ``c``
requests in flight at each concurrency level and time each request:

- TTFT: from sending the request to receiving the first SSE event whose delta carries
  non-empty ``content`` (the role-only first event does not count);
- E2E: to the end of the stream;
- errors: a status other than 200, a broken connection, a stream without ``data: [DONE]`` or
  with fewer content events than the upstream sent.

Targets, interleaved at each level so they share the machine's noise:

- ``direct``:  straight to the paced upstream;
- ``stratum``: ``python -m adaptive_router.middleware`` with both tiers on the upstream and
  model "auto", so the complexity scorer and the rule chain run on every request;
- ``litellm``: LiteLLM's proxy (``litellm --config``), from a separate virtualenv, because
  LiteLLM's dependencies must not leak into Stratum's. Create it once with:

      python3 -m venv .bench-venvs/litellm
      .bench-venvs/litellm/bin/pip install 'litellm[proxy]'

  and pass ``--litellm-venv`` (the default is used when it exists; LiteLLM is skipped with a
  note otherwise). It runs offline (local model cost map, telemetry off, log level WARNING)
  with a random master key, without which its proxy refuses to start; the same
  ``Authorization`` header goes to every target, Stratum runs with no client keys;
- ``socat`` (only when asked for with ``--targets``): a bare TCP relay written in C, the floor
  one more hop costs on this machine.

Every level is bounded by ``--requests-per-level`` and ``--duration-s`` (whichever comes
first) after a warm-up that is not counted. The table gives per target and level TTFT p50/p99,
E2E p50, requests/s, errors, the peak RSS of the proxy process (sampled every 50 ms; for
``direct`` the upstream's) and its CPU time per request; then the figures DESIGN.md sets
targets for. Raw figures go to ``--out`` as JSON. Everything listens on 127.0.0.1 only, and
every child process is stopped on exit, Ctrl-C included. On a small machine the upstream,
the proxy and the load generator share the cores: read the numbers with that in mind.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import secrets
import signal
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import orjson

from _overhead_report import (
    TTFT_DEFINITION,
    Cell,
    print_derived,
    print_table_head,
    table_row,
    write_json,
)
from _proxy_targets import (
    Target,
    child,
    cpu_s,
    rss_mb,
    start_litellm,
    start_socat,
    start_stratum,
    watch_rss,
)
from adaptive_router.bench import fake_engine
from adaptive_router.bench.fake_engine import free_port, new_loop
from adaptive_router.proxy.server import sigterm_as_interrupt
from adaptive_router.proxy.sse import FirstContentDetector

DEFAULT_LITELLM_VENV = Path(__file__).resolve().parents[1] / ".bench-venvs" / "litellm"
DEFAULT_OUT = Path(tempfile.gettempdir()) / "stratum-proxy-overhead.json"


@dataclass(frozen=True)
class Options:
    """What one run measures; built from the command line by :func:`parse_args`."""

    levels: tuple[int, ...]
    requests_per_level: int
    duration_s: float
    warmup_s: float
    chunks: int
    gap_ms: float
    targets: tuple[str, ...]
    litellm_venv: Path | None
    out: Path
    logs: Path | None
    request_timeout_s: float


# -- the targets -------------------------------------------------------------------------------


def start_targets(stack: contextlib.ExitStack, opts: Options, key: str) -> list[Target]:
    logs = opts.logs or Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-")))
    logs.mkdir(parents=True, exist_ok=True)
    port = free_port()
    # run as a file, not with -m: the engine then loads without the rest of the package
    cmd = [sys.executable, fake_engine.__file__, "--port", str(port)]
    cmd += ["--chunks", str(opts.chunks), "--gap-ms", str(opts.gap_ms)]
    upstream = f"http://127.0.0.1:{port}/v1"
    pid = stack.enter_context(child(cmd, upstream + "/models", logs))
    targets = [Target("direct", upstream, [pid])]
    if "stratum" in opts.targets:
        targets.append(start_stratum(stack, upstream, logs))
    if "litellm" in opts.targets:
        litellm = start_litellm(stack, upstream, logs, opts.litellm_venv, key)
        targets += [litellm] if litellm else []
    if "socat" in opts.targets:
        targets.append(start_socat(stack, port, logs))
    return [t for t in targets if t.name in opts.targets]


# -- the load -------------------------------------------------------------------------------------


def request_body() -> bytes:
    message = {"role": "user", "content": "hi"}
    return orjson.dumps({"model": "auto", "stream": True, "messages": [message]})


async def read_stream(response: aiohttp.ClientResponse, began: float) -> tuple[float, bytes]:
    """(TTFT or -1 when no content came, the whole body); the proxy's own TTFT detector."""
    ttft, detector, parts = -1.0, FirstContentDetector(), []
    async for data in response.content.iter_any():
        parts.append(data)
        if ttft < 0 and detector.feed(data):
            ttft = time.perf_counter() - began
    return ttft, b"".join(parts)


def stream_error(ttft: float, body: bytes, chunks: int) -> str | None:
    if ttft < 0:
        return "no content event"
    if not body.rstrip().endswith(b"data: [DONE]"):
        return "no [DONE]"
    if body.count(b'"tok') < chunks:  # the upstream's content is tok0 .. tok15
        return "content events lost"
    return None


@dataclass(frozen=True)
class Load:
    """What every request of one run shares."""

    session: aiohttp.ClientSession
    body: bytes
    headers: dict[str, str]
    chunks: int


async def one_request(load: Load, url: str, cell: Cell) -> None:
    began = time.perf_counter()
    try:
        async with load.session.post(url, data=load.body, headers=load.headers) as response:
            if response.status != 200:
                cell.errors[f"HTTP {response.status}"] += 1
                await response.read()
                return
            ttft, body = await read_stream(response, began)
    except (aiohttp.ClientError, TimeoutError) as exc:
        cell.errors[type(exc).__name__] += 1
        return
    error = stream_error(ttft, body, load.chunks)
    if error:
        cell.errors[error] += 1
        return
    cell.ttft_s.append(ttft)
    cell.e2e_s.append(time.perf_counter() - began)


async def closed_loop(load: Load, url: str, c: int, requests: int, seconds: float) -> Cell:
    """``c`` workers, each sending its next request when the last ends, until either bound."""
    cell, issued = Cell(), 0
    deadline = time.perf_counter() + seconds

    async def worker() -> None:
        nonlocal issued
        while issued < requests and time.perf_counter() < deadline:
            issued += 1
            await one_request(load, url, cell)

    began = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(c)))
    cell.wall_s = time.perf_counter() - began
    return cell


async def measure(load: Load, target: Target, c: int, opts: Options) -> Cell:
    """Warm up (not counted), then one bounded closed-loop run, watching the target's RSS."""
    url = target.url + "/chat/completions"
    rss_start, peak = rss_mb(target.pids), [0.0]
    watcher = asyncio.create_task(watch_rss(target.pids, peak))
    try:
        await closed_loop(load, url, c, 4 * c + 20, opts.warmup_s)
        cpu_before, client_before = cpu_s(target.pids), time.process_time()
        cell = await closed_loop(load, url, c, opts.requests_per_level, opts.duration_s)
        cpu_after, cell.client_cpu_s = cpu_s(target.pids), time.process_time() - client_before
    finally:
        watcher.cancel()
    if cpu_before is not None and cpu_after is not None:
        cell.cpu_s = cpu_after - cpu_before
    cell.rss_start_mb, cell.rss_peak_mb = rss_start, peak[0] or None
    return cell


async def run_levels(targets: list[Target], opts: Options, key: str) -> dict[str, dict[int, Cell]]:
    main_task = asyncio.current_task()
    assert main_task is not None
    # SIGTERM cancels the run so that main() unwinds and stops the children (Ctrl-C does the
    # same through asyncio.Runner); an exception raised in a signal handler could land in a
    # transport callback and be swallowed there
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, main_task.cancel)
    results: dict[str, dict[int, Cell]] = {t.name: {} for t in targets}
    headers = {"content-type": "application/json", "authorization": f"Bearer {key}"}
    # keep-alive shorter than uvicorn's 5 s, so an idle pooled connection is never reused
    # just as the server closes it while other targets take their turn
    connector = aiohttp.TCPConnector(limit=0, keepalive_timeout=3)
    timeout = aiohttp.ClientTimeout(total=opts.request_timeout_s)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        load = Load(session, request_body(), headers, opts.chunks)
        print_table_head()
        for c in opts.levels:
            for target in targets:
                cell = await measure(load, target, c, opts)
                results[target.name][c] = cell
                print(table_row(target.name, c, cell), flush=True)
    return results


def print_header(opts: Options, targets: list[Target]) -> None:
    print(
        f"# Proxy overhead, streaming over loopback: {', '.join(t.name for t in targets)}\n"
        f"upstream: {opts.chunks} chunks {opts.gap_ms:g} ms apart; closed loop at c = "
        f"{', '.join(map(str, opts.levels))}; per level up to {opts.requests_per_level} requests"
        f" or {opts.duration_s:g} s after a {opts.warmup_s:g} s warm-up.\n"
        f"{os.cpu_count()} CPU cores, shared by the upstream, the proxy under test and the load"
        " generator (one process each).\n"
        f"{TTFT_DEFINITION}. RSS and CPU: the proxy's processes (for direct: the upstream's).\n"
    )


# -- command line ---------------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> Options:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add = parser.add_argument
    add("--concurrency", default="1,32,200", help="levels, comma-separated (default: %(default)s)")
    add("--requests-per-level", type=int, default=4000, help="at most (default: %(default)s)")
    add("--duration-s", type=float, default=10.0, help="at most, per level (default: %(default)s)")
    add("--warmup-s", type=float, default=1.0, help="uncounted, per level (default: %(default)s)")
    add("--chunks", type=int, default=16, help="content events per answer (default: %(default)s)")
    add("--gap-ms", type=float, default=5.0, help="between events (default: %(default)s)")
    add(
        "--targets",
        default="direct,stratum,litellm",
        help="direct plus any of stratum, litellm, socat (a bare TCP relay: the floor one more"
        " hop costs; needs socat installed; no RSS or CPU figures) (default: %(default)s)",
    )
    add(
        "--litellm-venv",
        type=Path,
        default=DEFAULT_LITELLM_VENV if DEFAULT_LITELLM_VENV.exists() else None,
        help="virtualenv with litellm[proxy] (default: %(default)s)",
    )
    add("--out", type=Path, default=DEFAULT_OUT, help="raw figures, JSON (default: %(default)s)")
    add("--logs", type=Path, help="keep the children's logs here (default: a temporary folder)")
    add("--request-timeout-s", type=float, default=30.0, help="(default: %(default)s)")
    args = parser.parse_args(argv)
    levels = tuple(int(c) for c in args.concurrency.split(",") if c.strip())
    if not levels or min(levels) < 1 or args.requests_per_level < 1 or args.duration_s <= 0:
        parser.error("levels, --requests-per-level and --duration-s must be positive")
    targets = tuple(t.strip() for t in args.targets.split(",") if t.strip())
    if "direct" not in targets or not set(targets) <= {"direct", "stratum", "litellm", "socat"}:
        parser.error("--targets: direct plus any of stratum, litellm, socat")
    return Options(
        levels, args.requests_per_level, args.duration_s, args.warmup_s, args.chunks,
        args.gap_ms, targets, args.litellm_venv, args.out, args.logs, args.request_timeout_s,
    )  # fmt: skip


def main(argv: list[str] | None = None) -> None:
    opts = parse_args(argv)
    # Ctrl-C and SIGTERM unwind the ExitStack in run(), which stops every child process;
    # Ctrl-C is restored in case a parent shell started this with SIGINT ignored
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with sigterm_as_interrupt():
            results = run(opts)
    except KeyboardInterrupt:
        raise SystemExit("interrupted") from None
    added = print_derived(results) if len(results) > 1 else {}
    write_json(opts.out, vars(opts), results, added)


def run(opts: Options) -> dict[str, dict[int, Cell]]:
    """Start the targets, load them level by level, stop them."""
    key = "sk-" + secrets.token_hex(16)
    with contextlib.ExitStack() as stack:
        targets = start_targets(stack, opts, key)
        print_header(opts, targets)
        with asyncio.Runner(loop_factory=new_loop) as runner:
            try:
                return runner.run(run_levels(targets, opts, key))
            except asyncio.CancelledError:
                raise SystemExit("stopped by SIGTERM") from None


if __name__ == "__main__":
    main()
