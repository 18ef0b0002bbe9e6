"""Several router processes on one port: ``stratum serve --workers N``.

Each worker is a whole router (its own event loop, upstream connections and state), listening
on the same address with ``SO_REUSEPORT``, so the kernel spreads new connections across them
evenly. The parent only supervises: it holds the port, starts the workers, starts a new one
when one dies, and on SIGTERM or Ctrl-C passes SIGTERM on and waits for every worker to drain.

What each worker keeps to itself (nothing is shared between processes): the latency (SLA)
estimate and the routing signals, the circuit breakers, the session store, the /metrics
counters and the status page. A client's connection stays with one worker; its next
connection may land on another.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import socket
import time
from multiprocessing.context import SpawnProcess
from types import FrameType

from adaptive_router.proxy.config import Settings

_RESTART_PAUSE_S = 1.0


def listening_socket(host: str, port: int) -> socket.socket:
    """A socket bound to ``host:port`` with SO_REUSEPORT, so every worker can bind it too."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    return sock


def _worker(settings: Settings, port: int, log_level: str) -> None:
    from adaptive_router.proxy.server import make_server, sigterm_as_interrupt

    sock = listening_socket(settings.proxy.host, port)
    server = make_server(settings, log_level=log_level)
    with contextlib.suppress(KeyboardInterrupt), sigterm_as_interrupt():
        server.run(sockets=[sock])


class Supervisor:
    """Starts ``workers`` router processes on one port and keeps that many running."""

    def __init__(self, settings: Settings, workers: int, log_level: str) -> None:
        self.settings = settings
        self.workers = workers
        self.log_level = log_level
        # held, never listened on: it keeps the port (and resolves port 0) for the workers
        self.reservation = listening_socket(settings.proxy.host, settings.proxy.port)
        self.port = int(self.reservation.getsockname()[1])
        self.processes: list[SpawnProcess] = []
        self.stopping = False

    def run(self) -> None:
        """Serve until SIGTERM or Ctrl-C, then stop every worker gracefully."""
        previous = {sig: signal.signal(sig, self._stop) for sig in (signal.SIGTERM, signal.SIGINT)}
        try:
            self.processes = [self._start() for _ in range(self.workers)]
            while not self.stopping:
                self._replace_dead()
                time.sleep(0.2)
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            self._stop_all()
            self.reservation.close()

    def _start(self) -> SpawnProcess:
        context = multiprocessing.get_context("spawn")
        process = context.Process(
            target=_worker, args=(self.settings, self.port, self.log_level), daemon=True
        )
        process.start()
        return process

    def _replace_dead(self) -> None:
        for i, process in enumerate(self.processes):
            if process.is_alive() or self.stopping:
                continue
            print(f"worker {process.pid} exited ({process.exitcode}); starting another", flush=True)
            time.sleep(_RESTART_PAUSE_S)
            self.processes[i] = self._start()

    def _stop(self, signum: int, frame: FrameType | None) -> None:
        self.stopping = True

    def _stop_all(self) -> None:
        for process in self.processes:
            if process.pid is not None and process.is_alive():
                with contextlib.suppress(ProcessLookupError):
                    os.kill(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + self.settings.proxy.drain_timeout_s + 5.0
        for process in self.processes:
            process.join(max(0.0, deadline - time.monotonic()))
            if process.is_alive():
                process.kill()
                process.join()
