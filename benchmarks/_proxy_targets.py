"""The processes proxy_overhead.py loads: each started in its own process group, waited for
until it answers, and stopped (SIGTERM, then SIGKILL) when the run ends; their RSS and CPU."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from adaptive_router.bench.fake_engine import free_port

RSS_EVERY_S = 0.05


@dataclass
class Target:
    """Where the load goes and which processes to watch while it does."""

    name: str
    url: str
    pids: list[int]


# -- child processes ----------------------------------------------------------------------------


def wait_ready(url: str, process: subprocess.Popen[bytes], log: Path, timeout_s: float) -> None:
    """Poll ``url`` until it answers 200; exit with the child's log if it dies or times out."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            fail(f"{process.args!r} exited with {process.returncode}", log)
        with contextlib.suppress(OSError), urllib.request.urlopen(url, timeout=2) as answer:
            if answer.status == 200:
                return
        time.sleep(0.2)
    fail(f"{url} did not answer within {timeout_s:g} s", log)


def fail(message: str, log: Path) -> None:
    tail = log.read_text(errors="replace").splitlines()[-25:]
    raise SystemExit("\n".join([message, f"last lines of {log}:", *tail]))


@contextlib.contextmanager
def child(
    cmd: list[str], ready_url: str, logs: Path, env: dict[str, str] | None = None
) -> Iterator[int]:
    """Run ``cmd`` in its own process group until the block ends; yields its pid when ready."""
    log = logs / f"{Path(cmd[0]).name}-{len(list(logs.iterdir()))}.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            cmd, stdout=sink, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )
    try:
        wait_ready(ready_url, process, log, timeout_s=120)
        yield process.pid
    finally:
        stop(process)


def stop(process: subprocess.Popen[bytes]) -> None:
    for sig, wait_s in ((signal.SIGTERM, 10.0), (signal.SIGKILL, 5.0)):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sig)
        try:
            process.wait(wait_s)
            return
        except subprocess.TimeoutExpired:
            continue


def descendants(pid: int) -> list[int]:
    """``pid`` and every process below it (a proxy may run workers)."""
    found, queue = [], [pid]
    while queue:
        current = queue.pop()
        found.append(current)
        for task in Path(f"/proc/{current}/task").glob("*/children"):
            with contextlib.suppress(OSError):
                queue.extend(int(p) for p in task.read_text().split())
    return found


# -- process figures ----------------------------------------------------------------------------


def rss_mb(pids: list[int]) -> float | None:
    total = 0
    for pid in pids:
        with contextlib.suppress(OSError), open(f"/proc/{pid}/status", "rb") as status:
            for line in status:
                if line.startswith(b"VmRSS:"):
                    total += int(line.split()[1])
    return total / 1024 if total else None


def cpu_s(pids: list[int]) -> float | None:
    total = 0
    for pid in pids:
        with contextlib.suppress(OSError, ValueError, IndexError):
            fields = Path(f"/proc/{pid}/stat").read_bytes().rsplit(b")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14, 15)
    return total / os.sysconf("SC_CLK_TCK") if total else None


async def watch_rss(pids: list[int], peak: list[float]) -> None:
    """Keep the highest RSS seen in ``peak[0]`` until cancelled."""
    while True:
        peak[0] = max(peak[0], rss_mb(pids) or 0.0)
        await asyncio.sleep(RSS_EVERY_S)


# -- the proxies under test ---------------------------------------------------------------------


def start_stratum(
    stack: contextlib.ExitStack,
    upstream: str,
    logs: Path,
    *,
    name: str = "stratum",
    source: Path | None = None,
) -> Target:
    """Stratum in front of ``upstream``; ``source``: a ``src`` folder to run instead of the
    installed package (another version, for a before/after in one run)."""
    port = free_port()
    cmd = [sys.executable, "-m", "adaptive_router.middleware"]
    cmd += ["--tier-low-url", upstream, "--tier-high-url", upstream, "--port", str(port)]
    cmd += ["--vram-poll-interval-ms", "0", "--log-level", "warning"]
    env = {**os.environ, "PYTHONPATH": str(source)} if source else None
    pid = stack.enter_context(child(cmd, f"http://127.0.0.1:{port}/health", logs, env))
    return Target(name, f"http://127.0.0.1:{port}/v1", descendants(pid))


def start_socat(stack: contextlib.ExitStack, upstream_port: int, logs: Path) -> Target:
    """A bare TCP relay in C: what one more hop costs here, with no HTTP work at all."""
    port = free_port()
    listen = f"TCP-LISTEN:{port},fork,reuseaddr,nodelay,bind=127.0.0.1"
    cmd = ["socat", listen, f"TCP:127.0.0.1:{upstream_port},nodelay"]
    pid = stack.enter_context(child(cmd, f"http://127.0.0.1:{port}/health", logs))
    del pid  # socat forks a process per connection: its RSS and CPU are not tracked
    return Target("socat", f"http://127.0.0.1:{port}/v1", [])


def start_litellm(
    stack: contextlib.ExitStack, upstream: str, logs: Path, venv: Path | None, key: str
) -> Target | None:
    binary = venv / "bin" / "litellm" if venv else None
    if binary is None or not binary.exists():
        print(f"note: LiteLLM skipped: no {binary or '--litellm-venv'}; see --help to create it.")
        return None
    config = logs / "litellm.yaml"
    config.write_text(litellm_config(upstream))
    port = free_port()
    cmd = [str(binary), "--config", str(config), "--host", "127.0.0.1", "--port", str(port)]
    env = {**os.environ, **litellm_env(key)}
    pid = stack.enter_context(child(cmd, f"http://127.0.0.1:{port}/health/liveliness", logs, env))
    return Target("litellm", f"http://127.0.0.1:{port}/v1", descendants(pid))


def litellm_config(upstream: str) -> str:
    return f"""\
model_list:
  - model_name: auto
    litellm_params:
      model: openai/paced
      api_base: {upstream}
      api_key: sk-dummy
litellm_settings:
  telemetry: false
  drop_params: true
  callbacks: []
  success_callback: []
  failure_callback: []
general_settings:
  disable_spend_logs: true
"""


def litellm_env(key: str) -> dict[str, str]:
    """Offline and quiet: no cost-map download, no telemetry, no access log."""
    return {
        "LITELLM_MASTER_KEY": key,
        "LITELLM_LOCAL_MODEL_COST_MAP": "True",
        "LITELLM_TELEMETRY_DISABLED": "true",
        "LITELLM_LOG": "WARNING",
        "HF_HUB_OFFLINE": "1",
        "NO_PROXY": "127.0.0.1,localhost",
    }
