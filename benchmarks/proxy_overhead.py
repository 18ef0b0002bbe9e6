"""What the proxy adds: streaming through Stratum (and LiteLLM) vs straight to the upstream.

A paced-SSE upstream on loopback (16 chunks, 5 ms apart) answers every request; closed-loop
streaming clients at each concurrency level measure time to first token (TTFT: the first SSE
event whose choices carry non-empty content, as llmperf counts it) and end-to-end time, for:

- ``direct``:  straight to the paced upstream;
- ``stratum``: through ``python -m adaptive_router.middleware`` (adaptive routing, model
  "auto", so scoring and the rule chain run on every request);
- ``litellm``: through LiteLLM's proxy, if a virtualenv with ``litellm[proxy]`` is given:
  ``python3 -m venv /tmp/litellm && /tmp/litellm/bin/pip install 'litellm[proxy]'``;
- ``socat``: through a bare TCP relay written in C (when ``socat`` is installed): the floor
  any extra hop costs on this machine (two more process wake-ups per round trip).

Targets take turns at each level, so they share the machine's noise. Run:

    python benchmarks/proxy_overhead.py [--concurrency 1,32,200] [--litellm-venv /tmp/litellm]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
from aiohttp import web

CHUNKS, GAP_S = 16, 0.005
KEY = "sk-bench-0123456789abcdef"  # LiteLLM refuses to start without a master key
HEADERS = {"content-type": "application/json", "authorization": f"Bearer {KEY}"}
BODY = json.dumps(
    {
        "model": "auto",
        "stream": True,
        "max_tokens": 16,
        "messages": [{"role": "user", "content": "hi, how are you?"}],
    }
).encode()


# -- the paced upstream (runs in its own process) -------------------------------------------


def _event(delta: dict[str, object]) -> bytes:
    chunk = {
        "id": "x",
        "object": "chat.completion.chunk",
        "created": 0,
        "model": "paced",
        "choices": [{"index": 0, "delta": delta, "finish_reason": None}],
    }
    return b"data: " + json.dumps(chunk).encode() + b"\n\n"


async def _paced(request: web.Request) -> web.StreamResponse:
    await request.read()
    response = web.StreamResponse(headers={"content-type": "text/event-stream"})
    await response.prepare(request)
    await response.write(_event({"role": "assistant"}))
    for i in range(CHUNKS):
        await asyncio.sleep(GAP_S)
        await response.write(_event({"content": f"tok{i} "}))
    await response.write(b"data: [DONE]\n\n")
    await response.write_eof()
    return response


async def _models(request: web.Request) -> web.Response:
    return web.json_response({"object": "list", "data": [{"id": "paced"}]})


def serve_upstream(port: int) -> None:
    with contextlib.suppress(ImportError):
        import uvloop

        uvloop.install()
    app = web.Application()
    app.router.add_post("/v1/chat/completions", _paced)
    app.router.add_get("/v1/models", _models)
    web.run_app(app, host="127.0.0.1", port=port, access_log=None, print=None)


# -- processes ------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_http(url: str, process: subprocess.Popen[bytes], timeout_s: float = 90) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"{url}: {process.args[0]} exited with {process.returncode}")
        with contextlib.suppress(OSError), urllib.request.urlopen(url, timeout=1):
            return
        time.sleep(0.2)
    raise SystemExit(f"{url} did not come up in {timeout_s:g} s")


@contextlib.contextmanager
def started(cmd: list[str], ready_url: str, env: dict[str, str] | None = None) -> Iterator[int]:
    """Run ``cmd`` until the block ends; yields its pid once ``ready_url`` answers."""
    log = tempfile.TemporaryFile()  # noqa: SIM115 - closed in the finally below
    process = subprocess.Popen(
        cmd, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True
    )
    try:
        wait_http(ready_url, process)
        yield process.pid
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
        log.close()


def litellm_config(upstream: str, directory: Path) -> Path:
    path = directory / "litellm.yaml"
    path.write_text(
        "model_list:\n  - model_name: auto\n    litellm_params:\n"
        f"      model: openai/paced\n      api_base: {upstream}\n      api_key: none\n"
        "litellm_settings:\n  telemetry: false\n  drop_params: true\n"
    )
    return path


# -- load -----------------------------------------------------------------------------------


@dataclass
class Level:
    ttft: list[float] = field(default_factory=list)
    e2e: list[float] = field(default_factory=list)
    errors: int = 0
    wall_s: float = 0.0
    peak_rss_mb: float | None = None


async def one(session: aiohttp.ClientSession, url: str, level: Level) -> None:
    began = time.perf_counter()
    ttft = None
    try:
        async with session.post(url, data=BODY, headers=HEADERS) as response:
            if response.status != 200:
                level.errors += 1
                return
            done = False
            async for line in response.content:
                if ttft is None and line.startswith(b"data: {") and b'"content"' in line:
                    ttft = time.perf_counter() - began
                done = done or line.startswith(b"data: [DONE]")
            if not done or ttft is None:
                level.errors += 1
                return
    except (aiohttp.ClientError, TimeoutError):
        level.errors += 1
        return
    level.ttft.append(ttft)
    level.e2e.append(time.perf_counter() - began)


async def run_level(url: str, concurrency: int, requests: int, pid: int | None) -> Level:
    level = Level()
    remaining = requests
    connector = aiohttp.TCPConnector(limit=0)
    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        for _ in range(min(concurrency, 8)):  # warm-up: connections and code paths
            await one(session, url, Level())

        async def worker() -> None:
            nonlocal remaining
            while remaining > 0:
                remaining -= 1
                await one(session, url, level)

        sampler = asyncio.create_task(sample_rss(pid, level)) if pid else None
        began = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        level.wall_s = time.perf_counter() - began
        if sampler:
            sampler.cancel()
    return level


async def sample_rss(pid: int, level: Level) -> None:
    status = Path(f"/proc/{pid}/status")
    while True:
        with contextlib.suppress(OSError, ValueError):
            for line in status.read_text().splitlines():
                if line.startswith("VmRSS:"):
                    mb = int(line.split()[1]) / 1024
                    level.peak_rss_mb = max(level.peak_rss_mb or 0.0, mb)
        await asyncio.sleep(0.05)


# -- report ---------------------------------------------------------------------------------


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def row(name: str, c: int, level: Level) -> str:
    rps = len(level.e2e) / level.wall_s if level.wall_s else 0.0
    rss = f"{level.peak_rss_mb:.0f}" if level.peak_rss_mb else "-"
    return (
        f"| {name} | {c} | {1e3 * pct(level.ttft, 0.5):.2f} | {1e3 * pct(level.ttft, 0.99):.2f}"
        f" | {1e3 * pct(level.e2e, 0.5):.1f} | {rps:.0f} | {level.errors} | {rss} |"
    )


def derived(results: dict[str, dict[int, Level]], levels: list[int]) -> list[str]:
    direct = results["direct"]
    lines = []
    for name in (n for n in results if n != "direct"):
        for c in levels:
            add50 = 1e3 * (pct(results[name][c].ttft, 0.5) - pct(direct[c].ttft, 0.5))
            add99 = 1e3 * (pct(results[name][c].ttft, 0.99) - pct(direct[c].ttft, 0.99))
            mine = len(results[name][c].e2e) / results[name][c].wall_s
            base = len(direct[c].e2e) / direct[c].wall_s
            lines.append(
                f"{name:8} c={c:<4} added TTFT p50 {add50:+.2f} ms, p99 {add99:+.2f} ms,"
                f" throughput {100 * mine / base:.0f}% of direct"
            )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--concurrency", default="1,32,200", help="levels, comma-separated")
    parser.add_argument(
        "--requests",
        type=int,
        default=0,
        help="requests per level (default: 150 at c=1, else 12 x c, max 1600)",
    )
    parser.add_argument("--litellm-venv", type=Path, help="virtualenv with litellm[proxy]")
    parser.add_argument("--out", type=Path, help="also write the figures as JSON here")
    parser.add_argument("--serve-upstream", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_upstream:
        serve_upstream(args.serve_upstream)
        return
    levels = [int(c) for c in args.concurrency.split(",")]
    asyncio.run(bench(levels, args))


async def bench(levels: list[int], args: argparse.Namespace) -> None:
    up_port = free_port()
    upstream = f"http://127.0.0.1:{up_port}/v1"
    me = [sys.executable, str(Path(__file__).resolve())]
    with contextlib.ExitStack() as stack:
        stack.enter_context(started([*me, "--serve-upstream", str(up_port)], upstream + "/models"))
        targets: dict[str, tuple[str, int | None]] = {"direct": (upstream, None)}
        port = free_port()
        cmd = [
            sys.executable,
            "-m",
            "adaptive_router.middleware",
            "--tier-low-url",
            upstream,
            "--tier-high-url",
            upstream,
            "--port",
            str(port),
            "--log-level",
            "warning",
            "--vram-poll-interval-ms",
            "0",
            "--engine-poll-interval-ms",
            "0",
        ]
        pid = stack.enter_context(started(cmd, f"http://127.0.0.1:{port}/health"))
        targets["stratum"] = (f"http://127.0.0.1:{port}/v1", pid)
        if shutil.which("socat"):
            port = free_port()
            cmd = [
                "socat",
                f"TCP-LISTEN:{port},fork,reuseaddr,nodelay,bind=127.0.0.1",
                f"TCP:127.0.0.1:{up_port},nodelay",
            ]
            pid = stack.enter_context(started(cmd, f"http://127.0.0.1:{port}/v1/models"))
            targets["socat"] = (f"http://127.0.0.1:{port}/v1", None)
        if args.litellm_venv:
            port = free_port()
            config = litellm_config(
                upstream, Path(stack.enter_context(tempfile.TemporaryDirectory()))
            )
            env = {
                **os.environ,
                "LITELLM_LOCAL_MODEL_COST_MAP": "True",
                "LITELLM_TELEMETRY": "False",
                "LITELLM_MASTER_KEY": KEY,
            }
            cmd = [
                str(args.litellm_venv / "bin" / "litellm"),
                "--config",
                str(config),
                "--port",
                str(port),
                "--host",
                "127.0.0.1",
                "--num_workers",
                "1",
            ]
            pid = stack.enter_context(
                started(cmd, f"http://127.0.0.1:{port}/health/liveliness", env)
            )
            targets["litellm"] = (f"http://127.0.0.1:{port}/v1", pid)
        print(
            f"# proxy overhead: paced upstream {CHUNKS} chunks x {GAP_S * 1e3:g} ms; "
            f"{os.cpu_count()} CPU cores shared by upstream, proxy and load generator"
        )
        columns = ["target", "concurrency", "TTFT p50 ms", "TTFT p99 ms", "E2E p50 ms",
                   "req/s", "errors", "peak RSS MB"]  # fmt: skip
        print("| " + " | ".join(columns) + " |")
        print("|" + " --- |" * len(columns))
        results: dict[str, dict[int, Level]] = {name: {} for name in targets}
        for c in levels:
            n = args.requests or (150 if c == 1 else min(1600, 12 * c))
            for name, (url, pid) in targets.items():
                level = await run_level(url + "/chat/completions", c, n, pid)
                results[name][c] = level
                print(row(name, c, level), flush=True)
        print()
        for line in derived(results, levels):
            print(line)
        if args.out:
            args.out.write_text(
                json.dumps(
                    {name: {c: lv.__dict__ for c, lv in by.items()} for name, by in results.items()}
                )
            )


if __name__ == "__main__":
    main()
