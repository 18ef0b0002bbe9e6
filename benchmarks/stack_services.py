"""Time from `stratum up --with litellm,openwebui,prometheus` to every part healthy, and each
part's memory, over a few runs.

    .venv/bin/python benchmarks/stack_services.py
    .venv/bin/python benchmarks/stack_services.py --runs 1 --venv-dir /tmp/empty   # cold
    .venv/bin/python benchmarks/stack_services.py --services litellm,prometheus

Each run starts the stack as a user would, in a new run directory on free ports, and waits
for the router's /health (the router starts last, once every engine and service answered its
own). One chat goes through LiteLLM when it runs; then it reads the resident memory (RSS) of
each part from /proc (a part's child processes included; the router's own only, since the
engines and services are its children) and stops the stack with `stratum down`. With an empty
``--venv-dir`` the first run installs LiteLLM and OpenWebUI (a cold start). It prints each run
and the medians.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import openai

from adaptive_router.bench.fake_engine import free_port
from adaptive_router.stack.state import RunDir

STRATUM = str(Path(sys.executable).with_name("stratum"))


def rss_mib(pid: int, children: bool) -> float:
    pids = [pid]
    if children:
        done = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True)
        pids += [int(p) for p in done.stdout.split()]
    total_kb = 0
    for each in pids:
        for line in Path(f"/proc/{each}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                total_kb += int(line.split()[1])
    return total_kb / 1024


def one_run(services: str, venv_dir: str) -> tuple[float, dict[str, float]]:
    work = Path(tempfile.mkdtemp(prefix="stratum-services-"))
    port, litellm = free_port(), free_port()
    args = [
        STRATUM, "up", "--run-dir", str(work / "run"), "--port", str(port),
        "--engine-low-port", str(free_port()), "--engine-high-port", str(free_port()),
        "--with", services, "--services-litellm-port", str(litellm),
        "--services-openwebui-port", str(free_port()),
        "--services-prometheus-port", str(free_port()),
    ]  # fmt: skip
    if venv_dir:
        args += ["--services-venv-dir", venv_dir]
    began = time.monotonic()
    with (work / "up.out").open("w") as out:
        process = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT)
    try:
        while True:
            if process.poll() is not None:
                raise SystemExit(f"stratum up exited:\n{(work / 'up.out').read_text()}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1):
                    break
            except OSError:
                time.sleep(0.1)
        elapsed = time.monotonic() - began
        state = RunDir(work / "run").read()
        assert state is not None
        if "litellm" in services:
            key = (work / "run" / "litellm-master-key").read_text().strip()
            with openai.OpenAI(base_url=f"http://127.0.0.1:{litellm}/v1", api_key=key) as sdk:
                sdk.chat.completions.create(
                    model="gemma4-fast", messages=[{"role": "user", "content": "hi"}], max_tokens=8
                )
        memory = {p.name: rss_mib(p.pid, p.name != "router") for p in state.parts if p.pid}
    finally:
        subprocess.run([STRATUM, "down", "--run-dir", str(work / "run")], capture_output=True)
        process.wait(60)
    return elapsed, memory


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--services", default="litellm,openwebui,prometheus")
    parser.add_argument("--venv-dir", default="", help="the services' venvs (default: cache)")
    options = parser.parse_args()
    times, memories = [], []
    for run in range(1, options.runs + 1):
        elapsed, memory = one_run(options.services, options.venv_dir)
        times.append(elapsed)
        memories.append(memory)
        shown = "  ".join(f"{name} {mib:.0f}" for name, mib in memory.items())
        print(f"run {run}: all healthy after {elapsed:.1f} s; RSS MiB: {shown}", flush=True)
    print(f"median: {statistics.median(times):.1f} s to all healthy")
    for name in memories[0]:
        print(f"  {name:<10} {statistics.median(m[name] for m in memories):7.0f} MiB")


if __name__ == "__main__":
    main()
