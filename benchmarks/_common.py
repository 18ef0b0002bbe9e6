"""Small helpers the benchmark scripts share."""

from __future__ import annotations

import socket
import sys


def check_port_free(port: int) -> None:
    """Exit with a message when something already listens on 127.0.0.1:``port``."""
    with socket.socket() as s:
        s.settimeout(1.0)
        if s.connect_ex(("127.0.0.1", port)) == 0:
            sys.exit(f"port {port} on 127.0.0.1 is in use: pass --port with a free one")


def terminate(signum: int, frame: object) -> None:
    """A SIGTERM handler that unwinds like Ctrl-C, so ``finally`` blocks stop child processes."""
    raise SystemExit(f"stopped by signal {signum}")
