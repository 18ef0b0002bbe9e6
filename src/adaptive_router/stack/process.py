"""What the stack starts, as data (:class:`Launch`), and the one way it runs it (:class:`Child`).

Every part ``stratum up`` starts (an engine replica, a service) is first planned as a
``Launch``: its command line, the environment variables it adds, the files it needs
written and the URL that says it is healthy. ``stratum up --dry-run`` prints the plan
(:mod:`adaptive_router.stack.plan`); ``stratum up`` hands each Launch to a ``Child``.

    >>> gpu = (("CUDA_VISIBLE_DEVICES", "0"),)
    >>> Launch("tier_low engine", ("vllm", "serve", "google/gemma-4-E4B-it"), gpu).shell()
    'CUDA_VISIBLE_DEVICES=0 vllm serve google/gemma-4-E4B-it'
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import shlex
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from adaptive_router.errors import EngineError


@dataclass(frozen=True, slots=True)
class Launch:
    """One process the stack would start.

    ``env`` holds only the variables set on top of the inherited environment; ``files`` are
    (path, text) pairs written before the process starts (a generated config);
    ``health_url`` answers 200 once the process is ready ("" = ready once started).
    """

    name: str
    argv: tuple[str, ...]
    env: tuple[tuple[str, str], ...] = ()
    files: tuple[tuple[Path, str], ...] = ()
    health_url: str = ""

    def words(self) -> list[str]:
        """The command's shell words, quoted: its environment first, then its arguments."""
        return [f"{k}={shlex.quote(v)}" for k, v in self.env] + [shlex.quote(a) for a in self.argv]

    def shell(self) -> str:
        """The command as one copy-pasteable shell line, its environment first."""
        return " ".join(self.words())

    def write_files(self) -> None:
        for path, text in self.files:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")


def _die_with_parent() -> None:
    """In the child: get SIGTERM when the parent dies, so a killed stack leaves no orphan."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


class Child:
    """A Launch as a supervised child process: start, wait until healthy, stop (no orphans)."""

    def __init__(self, launch: Launch, log_path: Path | None = None) -> None:
        self.launch = launch
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    def exited(self) -> int | None:
        """The exit code if the process has ended, else None."""
        return self.process.poll() if self.process is not None else None

    def start(self) -> None:
        self.launch.write_files()
        log = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL  # noqa: SIM115
        try:
            self.process = subprocess.Popen(
                self.launch.argv,
                env={**os.environ, **dict(self.launch.env)},
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # Ctrl-C in a terminal reaches us, not it
                preexec_fn=_die_with_parent,
            )
        except OSError as exc:
            what = f"{self.launch.name}: cannot start {self.launch.argv[0]}"
            raise EngineError(f"{what}: {exc.strerror or exc}") from None
        finally:
            if log is not subprocess.DEVNULL:
                log.close()  # type: ignore[union-attr]

    def wait_ready(self, timeout_s: float = 120.0) -> None:
        """Block until the health URL answers 200; raise EngineError if it dies or times out."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise EngineError(
                    f"{self.launch.name} exited with code {self.process.returncode}"
                    f"{self._log_tail()}"
                )
            if not self.launch.health_url:
                return
            with (
                contextlib.suppress(urllib.error.URLError, OSError),
                urllib.request.urlopen(self.launch.health_url, timeout=2) as response,
            ):
                if response.status == 200:
                    return
            time.sleep(0.25)
        raise EngineError(f"{self.launch.name} not healthy after {timeout_s:g} s{self._log_tail()}")

    def stop(self, grace_s: float = 10.0) -> None:
        """SIGTERM, then SIGKILL after ``grace_s``. Safe to call twice."""
        process = self.process
        if process is None or process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(grace_s)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(5)

    def _log_tail(self, lines: int = 15) -> str:
        if self.log_path is None or not self.log_path.exists():
            return ""
        tail = self.log_path.read_text(errors="replace").splitlines()[-lines:]
        return f" (see {self.log_path}):\n" + "\n".join("    " + line for line in tail)
