"""``stratum status`` and ``stratum down``: look at, and stop, a running local stack."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from adaptive_router.errors import StackError
from adaptive_router.signals.engine import server_root
from adaptive_router.stack.state import PartState, RunDir, StackState, pid_alive, pid_runs


@dataclass(frozen=True, slots=True)
class PartHealth:
    """One part's health as ``stratum status`` reports it."""

    name: str
    url: str
    healthy: bool
    detail: str
    pid: int | None


def health_url(part: PartState) -> str:
    """A service's health URL is recorded with it; an engine's /health lives at its server
    root, the router's at its own root."""
    if part.health:
        return part.health
    root = server_root(part.url) if part.name != "router" else part.url
    return root + "/health"


def check(url: str, timeout_s: float = 3.0) -> tuple[bool, str]:
    """(healthy, short detail) for a /health URL."""
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as response:
            body = response.read(4096)
            status = _status_word(body)
            return True, f"HTTP {response.status}{status}"
    except urllib.error.HTTPError as exc:
        return False, f"HTTP {exc.code}{_status_word(exc.read(4096))}"
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        return False, f"unreachable ({reason})"


def _status_word(body: bytes) -> str:
    with contextlib.suppress(ValueError, AttributeError):
        status = json.loads(body).get("status")
        if isinstance(status, str):
            return f" {status}"
    return ""


def status(run_dir: Path) -> list[PartHealth]:
    """Health of every part of the stack recorded in ``run_dir``; StackError if none runs."""
    state = _running_state(run_dir)
    report = []
    for part in state.parts:
        healthy, detail = check(health_url(part))
        if part.pid is not None and not pid_alive(part.pid):
            healthy, detail = False, "process not running"
        report.append(PartHealth(part.name, part.url, healthy, detail, part.pid))
    return report


def down(run_dir: Path, timeout_s: float = 30.0) -> StackState:
    """Stop the stack recorded in ``run_dir``: SIGTERM its router, which stops the engines
    and services; kill whatever is left after ``timeout_s``."""
    state = _running_state(run_dir)
    with contextlib.suppress(ProcessLookupError):
        os.kill(state.pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout_s
    while pid_alive(state.pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    if pid_alive(state.pid):
        with contextlib.suppress(ProcessLookupError):
            os.kill(state.pid, signal.SIGKILL)
    for part in state.parts:  # engines and services of a router that could not clean up
        program = part.program or "llama-server"
        if part.pid is not None and part.name != "router" and pid_runs(part.pid, program):
            with contextlib.suppress(ProcessLookupError):
                os.kill(part.pid, signal.SIGKILL)
    with contextlib.suppress(FileNotFoundError):
        RunDir(run_dir).state_file.unlink()
    return state


def _running_state(run_dir: Path) -> StackState:
    state = RunDir(run_dir).read()
    if state is None or not pid_alive(state.pid):
        raise StackError(f"no stack is running (nothing recorded in {run_dir})")
    return state
