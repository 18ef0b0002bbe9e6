"""The local stack as a user runs it (``stratum up`` in a child process), for the real-stack
tests. The session's shared stack is the ``stack`` fixture in tests/conftest.py; tests that
need a stack of their own (``stratum down``, a model that fails to load, a port in use) call
:func:`start_stack` themselves."""

from __future__ import annotations

import contextlib
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from adaptive_router.bench.fake_engine import free_port
from adaptive_router.stack.state import RunDir, StackState, pid_alive


@dataclass
class RunningStack:
    process: subprocess.Popen[str]
    url: str  # router root, e.g. http://127.0.0.1:9000
    run_dir: Path
    output: Path

    def state(self) -> StackState:
        state = RunDir(self.run_dir).read()
        assert state is not None, "stack.json missing"
        return state

    def engine_pid(self, tier: str) -> int:
        pid = next(p.pid for p in self.state().parts if p.name == tier)
        assert pid is not None
        return pid


def stratum(*args: str, **kwargs: object) -> subprocess.CompletedProcess[str]:
    exe = str(Path(sys.executable).with_name("stratum"))
    return subprocess.run([exe, *args], capture_output=True, text=True, timeout=120, **kwargs)  # type: ignore[call-overload, no-any-return]


def start_stack(tmp: Path, *extra: str) -> RunningStack:
    """``stratum up`` as a user runs it, on free ports, with its own run directory."""
    port = free_port()
    run_dir = tmp / "run"
    output = tmp / "up.out"
    exe = str(Path(sys.executable).with_name("stratum"))
    args = [
        exe, "up", "--port", str(port), "--run-dir", str(run_dir),
        "--engine-low-port", str(free_port()), "--engine-high-port", str(free_port()),
        "--breaker-cooldown-s", "2", *extra,
    ]  # fmt: skip
    with output.open("w") as out:
        process = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, text=True)
    return RunningStack(process, f"http://127.0.0.1:{port}", run_dir, output)


def wait_up(stack: RunningStack, timeout_s: float = 120) -> float:
    """Seconds until the router answers /health; fails with the stack's output."""
    began = time.monotonic()
    while time.monotonic() - began < timeout_s:
        if stack.process.poll() is not None:
            raise AssertionError(f"stratum up exited:\n{stack.output.read_text()}")
        try:
            with urllib.request.urlopen(stack.url + "/health", timeout=1) as response:
                if response.status == 200:
                    return time.monotonic() - began
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"stack not up after {timeout_s} s:\n{stack.output.read_text()}")


def stop(stack: RunningStack) -> None:
    if stack.process.poll() is None:
        stack.process.send_signal(signal.SIGTERM)
        stack.process.wait(30)


def shut_down(stack: RunningStack) -> None:
    """Stop the stack and wait (up to 10 s each) until its engines are gone."""
    pids = [p.pid for p in stack.state().parts if p.pid] if stack.run_dir.exists() else []
    stop(stack)
    for pid in pids:
        deadline = time.monotonic() + 10
        while pid_alive(pid) and time.monotonic() < deadline:
            time.sleep(0.1)


@contextlib.contextmanager
def busy_port() -> Iterator[int]:
    """A loopback port something listens on, for as long as the block runs."""
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        yield busy.getsockname()[1]
