"""The launcher: runs the proxy app under uvicorn (uvloop + httptools when installed)."""

from __future__ import annotations

import contextlib
import errno
import signal
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

import uvicorn

from adaptive_router.errors import ConfigError
from adaptive_router.proxy.app import create_app
from adaptive_router.proxy.config import Settings
from adaptive_router.settings.fields import shown
from adaptive_router.tiers import TIERS


def describe(settings: Settings) -> str:
    """The start-up banner: where Stratum listens and what it routes to."""
    proxy = settings.proxy
    lines = [f"Stratum listening on http://{proxy.host}:{proxy.port}/v1"]
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


def make_server(settings: Settings, *, log_level: str = "info") -> uvicorn.Server:
    """The proxy app for ``settings`` in a uvicorn server, not yet running.

    ``server.run()`` serves in a loop of its own; ``await server.serve()`` in the caller's
    (``stratum up`` supervises its engines beside it). uvicorn picks uvloop and httptools
    when they are installed (``uvicorn[standard]``).
    """
    settings.proxy.require_upstreams()
    config = uvicorn.Config(
        create_app(settings),
        host=settings.proxy.host,
        port=settings.proxy.port,
        lifespan="on",
        access_log=False,
        proxy_headers=False,  # X-Forwarded-* rewriting is not needed: clients are not logged
        log_level=log_level,
        timeout_graceful_shutdown=5,
    )
    return uvicorn.Server(config)


def serve(settings: Settings, *, log_level: str = "info") -> None:
    """Run the proxy until interrupted (Ctrl-C or SIGTERM stop it cleanly)."""
    settings.proxy.require_upstreams()
    check_port_free(settings.proxy.host, settings.proxy.port)
    server = make_server(settings, log_level=log_level)
    print(describe(settings), flush=True)
    with contextlib.suppress(KeyboardInterrupt), sigterm_as_interrupt():
        server.run()
