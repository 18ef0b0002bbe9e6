"""The launcher: runs the proxy app under uvicorn (uvloop + httptools when installed)."""

from __future__ import annotations

import contextlib
import errno
import math
import signal
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

import orjson
import uvicorn

from adaptive_router.errors import ConfigError
from adaptive_router.proxy.app import create_app
from adaptive_router.proxy.asgi import Receive, Scope, Send, send_whole
from adaptive_router.proxy.config import Settings
from adaptive_router.proxy.protocol import guarded_protocol
from adaptive_router.settings.fields import shown
from adaptive_router.tiers import TIERS


def describe(settings: Settings, workers: int = 1) -> str:
    """The start-up banner: where Stratum listens and what it routes to."""
    proxy = settings.proxy
    lines = [f"Stratum listening on http://{proxy.host}:{proxy.port}/v1"]
    if workers > 1:
        lines.append(f"  workers: {workers} processes on this port, each with its own state")
    for tier in TIERS:
        config = proxy.tier(tier)
        model = config.model or "first model the server lists"
        lines.append(f"  {tier:<9} -> {shown(config.url)}  (model: {model})")
    targets = proxy.alias_targets()
    aliases = ", ".join(f"{name} ({target or 'adaptive'})" for name, target in targets.items())
    lines.append(f"  models: {aliases}")
    lines.append(
        f"  routing: complexity_threshold={settings.routing.complexity_threshold:g}, "
        f"latency_sla_ms={settings.routing.latency_sla_ms:g}, "
        f"vram_headroom_gb={settings.routing.vram_headroom_gb:g}"
    )
    return "\n".join(lines)


def check_port_free(host: str, port: int) -> None:
    """Raise ConfigError with a clear message if ``host:port`` cannot be bound."""
    if port == 0:
        return
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise ConfigError(
                    f"port {port} on {host} is already in use: stop what runs there "
                    f"or pick another with --port"
                ) from None
            raise ConfigError(f"cannot listen on {host}:{port}: {exc.strerror}") from None


@contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """SIGTERM unwinds like Ctrl-C (KeyboardInterrupt), so cleanup code runs.

    uvicorn handles both signals while serving and re-raises the one it caught once it has
    shut down gracefully; with this handler installed that ends in a clean exit, not a kill.
    """

    def interrupt(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


class DrainGate:
    """Wraps the app so that ``/health`` answers 503 once the server has been told to stop.

    uvicorn stops accepting at once; a health probe that still reaches the app while
    in-flight requests finish (one already on its way in) learns that this server is going
    away, so a load balancer takes it out of rotation.
    """

    def __init__(self, app: Any) -> None:
        self.app = app
        self.draining = False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.draining and scope["type"] == "http" and scope["path"].rstrip("/") == "/health":
            await send_whole(send, 503, orjson.dumps({"status": "draining"}))
            return
        await self.app(scope, receive, send)


class DrainingServer(uvicorn.Server):
    """uvicorn's server, marking its :class:`DrainGate` as draining on SIGTERM or Ctrl-C."""

    def __init__(self, config: uvicorn.Config, gate: DrainGate) -> None:
        super().__init__(config)
        self.gate = gate

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        self.gate.draining = True
        super().handle_exit(sig, frame)


def make_server(settings: Settings, *, log_level: str = "info") -> DrainingServer:
    """The proxy app for ``settings`` in a uvicorn server, not yet running.

    ``server.run()`` serves in a loop of its own; ``await server.serve()`` in the caller's
    (``stratum up`` supervises its engines beside it). uvicorn picks uvloop when it is
    installed (``uvicorn[standard]``); the HTTP protocol is httptools' with header and
    body timeouts and a head size cap (:mod:`adaptive_router.proxy.protocol`). On SIGTERM the
    server stops accepting, ``/health`` answers 503 and in-flight requests get
    ``drain_timeout_s`` to finish.
    """
    proxy = settings.proxy
    proxy.require_upstreams()
    gate = DrainGate(create_app(settings))
    config = uvicorn.Config(
        gate,
        host=proxy.host,
        port=proxy.port,
        http=guarded_protocol(
            proxy.header_timeout_s, proxy.body_timeout_s, int(proxy.max_header_kb * 1024)
        ),
        lifespan="on",
        access_log=False,
        proxy_headers=False,  # X-Forwarded-* rewriting is not needed: clients are not logged
        log_level=log_level,
        timeout_graceful_shutdown=math.ceil(proxy.drain_timeout_s),
    )
    return DrainingServer(config, gate)


def serve(settings: Settings, *, log_level: str = "info", workers: int = 1) -> None:
    """Run the proxy until interrupted (Ctrl-C or SIGTERM stop it cleanly); with
    ``workers`` > 1 as that many processes on one port (:mod:`adaptive_router.proxy.workers`).
    """
    settings.proxy.require_upstreams()
    check_port_free(settings.proxy.host, settings.proxy.port)
    if workers > 1:
        from adaptive_router.proxy.workers import Supervisor

        supervisor = Supervisor(settings, workers, log_level)
        print(describe(settings, workers), flush=True)
        supervisor.run()
        return
    server = make_server(settings, log_level=log_level)
    print(describe(settings), flush=True)
    with contextlib.suppress(KeyboardInterrupt), sigterm_as_interrupt():
        server.run()
