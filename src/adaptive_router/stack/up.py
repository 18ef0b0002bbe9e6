"""``stratum up``: two real llama.cpp servers and the router, in one command.

Order of work: take the run directory's lock; check every port; find the engine and the
model; install the services named with ``--with`` if they are missing; start the services
and the engines and wait for their health; start the router; print how to call it.
Ctrl-C or SIGTERM stops everything it started, and so does any failure on the way up.
While it runs, an engine or service that exits is restarted (the router fails over meanwhile).
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from adaptive_router.errors import StackError, StratumError
from adaptive_router.proxy.config import Settings
from adaptive_router.proxy.server import (
    DrainingServer,
    check_port_free,
    make_server,
    sigterm_as_interrupt,
)
from adaptive_router.stack.config import StackConfig
from adaptive_router.stack.engines import HOST, plan_engines
from adaptive_router.stack.fit_check import check_stack_fits
from adaptive_router.stack.llama import LlamaServerSpec
from adaptive_router.stack.process import Child
from adaptive_router.stack.services import Service, banner_lines, plan_services, services_of
from adaptive_router.stack.services import check_ports as check_service_ports
from adaptive_router.stack.services import install as install_services
from adaptive_router.stack.services import start as start_services
from adaptive_router.stack.services import wait_ready as wait_services
from adaptive_router.stack.state import PartState, RunDir, StackState
from adaptive_router.tiers import TIERS, Tier

Echo = Callable[[str], None]
_MAX_RESTARTS = 5  # per engine per 10 minutes, then it is left down


@dataclass
class Engine:
    """One engine process of a tier (a replica), started and supervised by the stack."""

    tier: Tier
    server: Child
    restarts: list[float] = dataclasses.field(default_factory=list)
    part: str = ""  # its name in the stack's state ("tier_low", "tier_low-2"); "" = the tier
    port: int = 0
    llama: LlamaServerSpec | None = None  # a llama.cpp engine: what the fit check sizes
    gpu_share: float = 0.0  # a vLLM/SGLang engine: the fraction of its GPU it takes

    @property
    def name(self) -> str:
        return self.part or self.tier


def up(
    settings: Settings,
    stack: StackConfig,
    echo: Echo = print,
    log_level: str = "warning",
    services: Sequence[str] = (),
) -> None:
    """Run the local stack, with the named ``services`` around the router (see
    :mod:`adaptive_router.stack.services`), until interrupted. Raises StratumError
    subclasses on failure."""
    began = time.monotonic()
    run_dir = RunDir(stack.state_dir())
    run_dir.acquire()
    engines: list[Engine] = []
    extras: list[Service] = []
    try:
        with sigterm_as_interrupt():
            engines = _plan_engines(settings, stack, run_dir)
            _check_ports(settings, engines)
            settings = _point_tiers_at(settings, engines)
            proxy = settings.proxy
            engine_urls: dict[str, Sequence[str]] = {t: proxy.tier(t).url for t in TIERS}
            plan = plan_services(services, stack.services, proxy, engine_urls, run_dir.path)
            check_service_ports(plan, [proxy.port, *(e.port for e in engines)])
            _check_fit(engines, stack, echo)
            install_services(services, stack.services, echo)
            extras = services_of(plan, run_dir.log)
            start_services(extras, echo)  # they boot while the engines load
            _start_engines(engines, stack, echo)
            wait_services(extras, stack.services.ready_timeout_s, echo)
            state = _state(settings, engines, run_dir)
            state.parts += [service.part() for service in extras]
            run_dir.write(state)

            def banner() -> str:
                first = _ready_banner(settings, run_dir.path, time.monotonic() - began)
                return "\n".join([first, *banner_lines(extras, plan.notes)])

            # uvicorn re-raises the signal it caught; the handler above turns that into
            # KeyboardInterrupt, which unwinds here and stops the engines.
            parts: list[Engine | Service] = [*engines, *extras]
            asyncio.run(_serve(settings, parts, stack, run_dir, state, echo, log_level, banner))
    except KeyboardInterrupt:
        echo("interrupted")
    finally:
        children: list[Engine | Service] = [*engines, *extras]
        for child in reversed(children):  # the services first
            child.server.stop()
        run_dir.release()
        started = [_label(c) for c in children if c.server.pid]
        if started:
            echo("stopped: " + ", ".join(started) + " and router")


def _plan_engines(settings: Settings, stack: StackConfig, run_dir: RunDir) -> list[Engine]:
    plan = plan_engines(settings, stack)
    if plan.missing:
        raise StackError(
            "cannot start the stack's engines here:\n  " + "\n  ".join(plan.missing)
            + "\n(stratum up --dry-run prints the commands it would run)"
        )  # fmt: skip
    engines = []
    for planned in plan.engines:
        part = planned.tier if planned.replica == 1 else f"{planned.tier}-{planned.replica}"
        server = Child(planned.launch, run_dir.log(part))
        engines.append(
            Engine(planned.tier, server, [], part, planned.port, planned.llama, planned.gpu_share)
        )
    return engines


def _check_ports(settings: Settings, engines: list[Engine]) -> None:
    wanted = [("router", settings.proxy.host, settings.proxy.port)]
    wanted += [(f"{e.name} engine", HOST, e.port) for e in engines]
    ports = [port for _, _, port in wanted]
    if len(set(ports)) != len(ports):
        raise StackError(f"two parts of the stack would share a port: {ports}")
    for name, host, port in wanted:
        try:
            check_port_free(host, port)
        except Exception as exc:
            raise StackError(f"{name}: {exc}") from None


def _check_fit(engines: list[Engine], stack: StackConfig, echo: Echo) -> None:
    llama = [(e.name, e.llama) for e in engines if e.llama]
    shares = [(e.name, e.gpu_share) for e in engines if e.gpu_share]
    check_stack_fits(llama, stack.strict, echo, shares=shares)


def _start_engines(engines: list[Engine], stack: StackConfig, echo: Echo) -> None:
    for engine in engines:
        echo(f"starting {engine.server.launch.name}")
        engine.server.start()
    for engine in engines:
        began = time.monotonic()
        engine.server.wait_ready(stack.ready_timeout_s)
        echo(f"{engine.name} engine ready in {time.monotonic() - began:.1f} s")


def _point_tiers_at(settings: Settings, engines: list[Engine]) -> Settings:
    proxy = settings.proxy
    for name in TIERS:  # "tier_low" / "tier_high": the ProxyConfig field names
        urls = tuple(f"http://{HOST}:{e.port}/v1" for e in engines if e.tier == name)
        if urls:
            proxy = dataclasses.replace(
                proxy, **{name: dataclasses.replace(getattr(proxy, name), url=urls)}
            )
    return dataclasses.replace(settings, proxy=proxy)


def _state(settings: Settings, engines: list[Engine], run_dir: RunDir) -> StackState:
    router_url = f"http://{settings.proxy.host}:{settings.proxy.port}"
    parts = [PartState("router", router_url, os.getpid(), None)]
    for tier in TIERS:
        managed = [e for e in engines if e.tier == tier]
        if not managed:  # an external server: watched, not run
            parts.append(PartState(tier, settings.proxy.tier(tier).url[0], None, None))
        for e in managed:
            url = f"http://{HOST}:{e.port}/v1"
            log = str(run_dir.log(e.name))
            parts.append(PartState(e.name, url, e.server.pid, log, program=_program(e)))
    return StackState(os.getpid(), router_url, parts)


def _program(engine: Engine) -> str:
    """A word of the engine's command line that `stratum down` can recognise it by."""
    argv = engine.server.launch.argv
    if Path(argv[0]).name.startswith("python") and argv[1:2] == ("-m",):  # sglang's module
        return argv[2]
    return Path(argv[0]).name


async def _serve(
    settings: Settings,
    engines: list[Engine | Service],
    stack: StackConfig,
    run_dir: RunDir,
    state: StackState,
    echo: Echo,
    log_level: str,
    banner: Callable[[], str],
) -> None:
    """Serve the router; the banner is printed once it listens, so its URL answers at once."""
    server = make_server(settings, log_level=log_level)
    tasks = [asyncio.create_task(_announce(server, banner, echo))]
    if stack.restart_engines and engines:
        tasks.append(asyncio.create_task(_supervise(engines, run_dir, state, echo)))
    try:
        await server.serve()
    finally:
        for task in tasks:
            task.cancel()


async def _announce(server: DrainingServer, banner: Callable[[], str], echo: Echo) -> None:
    while not server.started:
        await asyncio.sleep(0.02)
    echo(banner())


def _label(child: Engine | Service) -> str:
    return f"{child.name} engine" if isinstance(child, Engine) else child.name


async def _supervise(
    engines: Sequence[Engine | Service], run_dir: RunDir, state: StackState, echo: Echo
) -> None:
    """Restart an engine or service that exits (at most _MAX_RESTARTS in 10 minutes)."""
    while True:
        await asyncio.sleep(1.0)
        for engine in engines:
            code = engine.server.exited()
            if code is None:
                continue
            now = time.monotonic()
            engine.restarts = [t for t in engine.restarts if now - t < 600]
            if len(engine.restarts) >= _MAX_RESTARTS:
                continue  # reported once when the limit was reached
            engine.restarts.append(now)
            echo(f"{_label(engine)} exited with code {code}; restarting "
                 f"(log: {engine.server.log_path})")  # fmt: skip
            try:  # a full disk (logs, state file) must not end supervision
                engine.server.start()
                for part in state.parts:
                    if part.name == engine.name:
                        part.pid = engine.server.pid
                run_dir.write(state)
            except (OSError, StratumError) as exc:
                echo(f"{_label(engine)}: restart failed: {exc}; will try again")
                continue
            if len(engine.restarts) >= _MAX_RESTARTS:
                echo(f"{_label(engine)} restarted {_MAX_RESTARTS} times in 10 minutes; "
                     "it will be left down if it exits again")  # fmt: skip


def _ready_banner(settings: Settings, run_dir: Path, elapsed_s: float) -> str:
    base = f"http://{settings.proxy.host}:{settings.proxy.port}"
    body = (
        '{"model": "gemma4-fast", "messages": [{"role": "user", '
        '"content": "What is 2+2?"}], "max_tokens": 32}'
    )
    return "\n".join(
        [
            f"Stratum is up in {elapsed_s:.1f} s: {base}/v1  (Ctrl-C stops everything)",
            f"  tier_low  -> {settings.proxy.tier_low.url[0]}",
            f"  tier_high -> {settings.proxy.tier_high.url[0]}",
            "Try it:",
            f"  curl {base}/v1/chat/completions -H 'content-type: application/json' \\",
            f"       -d '{body}' -i",
            "  python -c 'from openai import OpenAI; c = OpenAI(base_url=\"" + base + '/v1", '
            'api_key="unused"); print(c.chat.completions.create(model="gemma4-fast", '
            'messages=[{"role": "user", "content": "Hi"}], max_tokens=16)'
            ".choices[0].message.content)'",
            f"  status page: {base}/   health: stratum status   logs: {run_dir}",
        ]
    )
