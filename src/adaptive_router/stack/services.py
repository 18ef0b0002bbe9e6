"""The services around the router: ``stratum up --with litellm,openwebui,prometheus``.

Each named service is planned as a :class:`~adaptive_router.stack.process.Launch` (its
command, environment, generated config and health URL; ``stratum up --dry-run`` prints
it), installed on first use (LiteLLM and OpenWebUI into venvs of their own, Prometheus
from Debian), then run as a :class:`~adaptive_router.stack.process.Child` that ``stratum
up`` supervises like an engine: port checked first, log in the run directory, health-waited,
restarted if it dies, stopped with the stack. They listen on loopback only.

    >>> parse_with("prometheus, litellm")
    ('litellm', 'prometheus')
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from adaptive_router.errors import ConfigError, StackError
from adaptive_router.proxy.config import ProxyConfig
from adaptive_router.proxy.server import check_port_free
from adaptive_router.stack import litellm, openwebui, prometheus
from adaptive_router.stack.config import ServicesConfig
from adaptive_router.stack.process import Child, Launch
from adaptive_router.stack.state import PartState, kept_secret
from adaptive_router.stack.venvs import VenvSpec, ensure_venv, is_installed, venv_bin, venv_root

SERVICES = ("litellm", "openwebui", "prometheus")  # also their start order
HOST = "127.0.0.1"
_PROGRAMS = {"litellm": "litellm", "openwebui": "open-webui", "prometheus": "prometheus"}


def parse_with(text: str | Sequence[str] | None) -> tuple[str, ...]:
    """The services named in ``--with`` (comma-separated), in start order; ConfigError
    names any unknown one."""
    words = text.split(",") if isinstance(text, str) else list(text or ())
    names = {word.strip().lower() for word in words if word.strip()}
    unknown = sorted(names - set(SERVICES))
    if unknown:
        raise ConfigError(
            f"--with: unknown service(s) {', '.join(unknown)}; choose from {', '.join(SERVICES)}"
        )
    return tuple(name for name in SERVICES if name in names)


@dataclass(frozen=True, slots=True)
class ServicePlan:
    """What the named services will run, and notes for the user (where a key comes from)."""

    launches: tuple[Launch, ...] = ()
    notes: tuple[str, ...] = ()
    ports: tuple[tuple[str, int], ...] = ()


def plan_services(
    names: Sequence[str],
    config: ServicesConfig,
    proxy: ProxyConfig,
    engine_urls: Mapping[str, Sequence[str]],
    run_dir: Path,
    dry_run: bool = False,
) -> ServicePlan:
    """Plan ``names`` for a router configured by ``proxy`` and engines at ``engine_urls``
    (tier -> base URLs). With ``dry_run`` nothing is written or installed."""
    router = f"http://{_loopback(proxy.host)}:{proxy.port}"
    upstream_key = proxy.api_keys[0] if proxy.api_keys else "unused"
    notes: list[str] = []
    launches = []
    key = upstream_key
    api = f"{router}/v1"
    if "litellm" in names:
        found, source = litellm.master_key(
            run_dir / "litellm-master-key", os.environ, Path.cwd() / ".env", not dry_run
        )
        notes.append(f"LiteLLM master key: {source}")
        key = found if found and not dry_run else "<the LiteLLM master key>"
        api = f"http://{HOST}:{config.litellm_port}/v1"
        launches.append(_litellm(config, router, proxy, upstream_key, key, run_dir))
    if "openwebui" in names:
        secret = kept_secret(run_dir / "openwebui" / "secret-key", create=not dry_run)
        secret = secret if secret and not dry_run else "<kept in openwebui/secret-key>"
        env = openwebui.environment(run_dir / "openwebui", api, key, config.task_model, secret)
        args = ("serve", "--host", HOST, "--port", str(config.openwebui_port))
        launches.append(
            _venv_launch("openwebui", openwebui.SPEC, config, "open-webui", args, env, "/health")
        )
    if "prometheus" in names:
        launches.append(_prometheus(config, router, engine_urls, run_dir, dry_run, notes))
    root = venv_root(config.venv_dir)
    for name, spec in (("litellm", litellm.SPEC), ("openwebui", openwebui.SPEC)):
        if name in names and not is_installed(spec, root):
            notes.append(f"{name}: installs {spec.name} into {root} first ({spec.size_hint})")
    ports = tuple((name, config.port(name)) for name in names)
    return ServicePlan(tuple(launches), tuple(notes), ports)


def _loopback(host: str) -> str:
    return HOST if host in ("0.0.0.0", "::", "") else host


def _venv_launch(
    name: str,
    spec: VenvSpec,
    config: ServicesConfig,
    program: str,
    args: tuple[str, ...],
    env: tuple[tuple[str, str], ...],
    health_path: str,
    files: tuple[tuple[Path, str], ...] = (),
) -> Launch:
    binary = venv_bin(spec, venv_root(config.venv_dir), program)
    health = f"http://{HOST}:{config.port(name)}{health_path}"
    return Launch(name, (str(binary), *args), env, files, health)


def _litellm(
    config: ServicesConfig,
    router: str,
    proxy: ProxyConfig,
    upstream_key: str,
    key: str,
    run_dir: Path,
) -> Launch:
    path = run_dir / "litellm.yaml"
    text = litellm.config_text(router, proxy.alias_targets(), upstream_key)
    env = litellm.ENV if os.environ.get(litellm.KEY_ENV) else (*litellm.ENV, (litellm.KEY_ENV, key))
    args = ("--config", str(path), "--host", HOST, "--port", str(config.litellm_port))
    return _venv_launch("litellm", litellm.SPEC, config, "litellm", args, env,
                        "/health/liveliness", ((path, text),))  # fmt: skip


def _prometheus(
    config: ServicesConfig,
    router: str,
    engine_urls: Mapping[str, Sequence[str]],
    run_dir: Path,
    dry_run: bool,
    notes: list[str],
) -> Launch:
    try:
        binary = prometheus.prometheus_binary(install=not dry_run)
    except StackError as exc:
        if not dry_run:
            raise
        binary = Path("prometheus")
        notes.append(f"prometheus: {exc}")
    path = run_dir / "prometheus.yml"
    # The config as data, written by Child.start (so --dry-run can print it).
    text = prometheus.config_text(router, engine_urls)
    port = config.prometheus_port
    argv = prometheus.prometheus_command(binary, path, run_dir / "prometheus", port)
    health = f"http://{HOST}:{port}/-/ready"
    return Launch("prometheus", tuple(argv), (), ((path, text),), health)


@dataclass
class Service:
    """A service's process, supervised by the stack like an engine."""

    name: str
    server: Child
    port: int
    restarts: list[float] = dataclasses.field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def part(self) -> PartState:
        """Its entry in the stack's state (``stratum status`` / ``stratum down``)."""
        log = str(self.server.log_path) if self.server.log_path else None
        return PartState(self.name, self.url, self.server.pid, log,
                         self.server.launch.health_url, _PROGRAMS[self.name])  # fmt: skip


def services_of(plan: ServicePlan, log: Callable[[str], Path]) -> list[Service]:
    """The planned services as processes to run, each logging to ``log(name)``."""
    return [
        Service(launch.name, Child(launch, log(launch.name)), port)
        for launch, (_name, port) in zip(plan.launches, plan.ports, strict=True)
    ]


def install(names: Sequence[str], config: ServicesConfig, echo: Callable[[str], None]) -> None:
    """Install what the named services need and lack (their venvs), with progress shown."""
    root = venv_root(config.venv_dir)
    for name, spec in (("litellm", litellm.SPEC), ("openwebui", openwebui.SPEC)):
        if name in names:
            ensure_venv(spec, root, echo)


def start(services: Sequence[Service], echo: Callable[[str], None]) -> None:
    """Start every service's process (each one's readiness is waited for later)."""
    for service in services:
        echo(f"starting {service.name} on {service.url}")
        service.server.start()


def wait_ready(services: Sequence[Service], timeout_s: float, echo: Callable[[str], None]) -> None:
    """Block until each service answers its health check; EngineError if one dies."""
    for service in services:
        began = time.monotonic()
        service.server.wait_ready(timeout_s)
        echo(f"{service.name} ready in {time.monotonic() - began:.1f} s")


def check_ports(plan: ServicePlan, taken: Sequence[int]) -> None:
    """StackError unless every service's port is its own and free."""
    for name, port in plan.ports:
        if port in taken:
            raise StackError(f"{name}: port {port} is taken by another part of the stack")
        try:
            check_port_free(HOST, port)
        except ConfigError as exc:  # it names the router's flag; this one has its own
            message = str(exc).replace("--port", f"--services-{name}-port")
            raise StackError(f"{name}: {message}") from None


def banner_lines(services: Sequence[Service], notes: Sequence[str]) -> list[str]:
    """What the ready banner says about each service: where it is, and how to use it."""
    lines = []
    for service in services:
        env = dict(service.server.launch.env)
        if service.name == "litellm":
            key = env.get(litellm.KEY_ENV, f"${litellm.KEY_ENV}")
            lines.append(f"  LiteLLM    -> {service.url}/v1   key: {key}")
        elif service.name == "openwebui":
            behind = "LiteLLM" if any(s.name == "litellm" for s in services) else "Stratum"
            lines.append(f"  OpenWebUI  -> {service.url}   (no login; chats through {behind})")
        else:
            lines.append(f"  Prometheus -> {service.url}   (alerts: {service.url}/alerts)")
    return lines + [f"  {note}" for note in notes if note.startswith("LiteLLM master key")]
