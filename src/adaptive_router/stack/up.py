"""``stratum up``: two real llama.cpp servers and the router, in one command.

Order of work: take the run directory's lock; check every port; find the engine and the
model; start the engines and wait for their /health; start the router; print how to call it.
Ctrl-C or SIGTERM stops everything it started, and so does any failure on the way up.
While it runs, an engine that exits is restarted (the router fails over meanwhile).
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import shlex
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from adaptive_router.errors import StackError, StratumError
from adaptive_router.proxy.config import Settings
from adaptive_router.proxy.server import check_port_free, make_server, sigterm_as_interrupt
from adaptive_router.stack.config import EngineConfig, StackConfig
from adaptive_router.stack.fit_check import check_stack_fits
from adaptive_router.stack.llama import LlamaServer, LlamaServerSpec, default_model
from adaptive_router.stack.state import PartState, RunDir, StackState
from adaptive_router.tiers import TIERS, Tier

Echo = Callable[[str], None]
_MAX_RESTARTS = 5  # per engine per 10 minutes, then it is left down


@dataclass
class Engine:
    """A tier's llama-server, started and supervised by the stack."""

    tier: Tier
    server: LlamaServer
    restarts: list[float] = dataclasses.field(default_factory=list)


def up(
    settings: Settings, stack: StackConfig, echo: Echo = print, log_level: str = "warning"
) -> None:
    """Run the local stack until interrupted. Raises StratumError subclasses on failure."""
    began = time.monotonic()
    run_dir = RunDir(stack.state_dir())
    run_dir.acquire()
    engines: list[Engine] = []
    try:
        with sigterm_as_interrupt():
            engines = _plan_engines(settings, stack, run_dir)
            _check_ports(settings, engines)
            check_stack_fits([(e.tier, e.server.spec) for e in engines], stack.strict, echo)
            _start_engines(engines, stack, echo)
            settings = _point_tiers_at(settings, engines)
            state = _state(settings, engines, run_dir)
            run_dir.write(state)
            echo(_ready_banner(settings, run_dir.path, time.monotonic() - began))
            # uvicorn re-raises the signal it caught; the handler above turns that into
            # KeyboardInterrupt, which unwinds here and stops the engines.
            asyncio.run(_serve(settings, engines, stack, run_dir, state, echo, log_level))
    except KeyboardInterrupt:
        echo("interrupted")
    finally:
        for engine in engines:
            engine.server.stop()
        run_dir.release()
        if any(engine.server.pid for engine in engines):
            echo("stopped: " + ", ".join(f"{e.tier} engine" for e in engines) + " and router")


def _plan_engines(settings: Settings, stack: StackConfig, run_dir: RunDir) -> list[Engine]:
    engines = []
    for tier in TIERS:
        if settings.proxy.tier(tier).url:
            continue  # an external server: used as it is
        config: EngineConfig = stack.engine_low if tier == "tier_low" else stack.engine_high
        model = Path(config.model).expanduser() if config.model else default_model()
        if not model.is_file():
            raise StackError(f"{tier}: model file not found: {model}")
        spec = LlamaServerSpec(
            model=model,
            port=config.port,
            parallel=config.parallel,
            ctx_size=config.ctx_size,
            threads=config.threads or max(1, (os.cpu_count() or 2) // 2),
            chat_template="gemma" if not config.model else None,
            extra_args=tuple(shlex.split(config.args)),
        )
        engines.append(Engine(tier, LlamaServer(spec, run_dir.log(tier))))
    return engines


def _check_ports(settings: Settings, engines: list[Engine]) -> None:
    wanted = [("router", settings.proxy.host, settings.proxy.port)]
    wanted += [(f"{e.tier} engine", e.server.spec.host, e.server.spec.port) for e in engines]
    ports = [port for _, _, port in wanted]
    if len(set(ports)) != len(ports):
        raise StackError(f"two parts of the stack would share a port: {ports}")
    for name, host, port in wanted:
        try:
            check_port_free(host, port)
        except Exception as exc:
            raise StackError(f"{name}: {exc}") from None


def _start_engines(engines: list[Engine], stack: StackConfig, echo: Echo) -> None:
    for engine in engines:
        spec = engine.server.spec
        echo(f"starting {engine.tier} engine: llama-server :{spec.port} ({spec.model.name}, "
             f"{spec.parallel} slot(s), ctx {spec.ctx_size})")  # fmt: skip
        engine.server.start()
    for engine in engines:
        began = time.monotonic()
        engine.server.wait_ready(stack.ready_timeout_s)
        echo(f"{engine.tier} engine ready in {time.monotonic() - began:.1f} s")


def _point_tiers_at(settings: Settings, engines: list[Engine]) -> Settings:
    proxy = settings.proxy
    for engine in engines:
        name = engine.tier  # "tier_low" / "tier_high": the ProxyConfig field names
        tier = dataclasses.replace(getattr(proxy, name), url=(engine.server.spec.base_url,))
        proxy = dataclasses.replace(proxy, **{name: tier})
    return dataclasses.replace(settings, proxy=proxy)


def _state(settings: Settings, engines: list[Engine], run_dir: RunDir) -> StackState:
    router_url = f"http://{settings.proxy.host}:{settings.proxy.port}"
    parts = [PartState("router", router_url, os.getpid(), None)]
    managed = {e.tier: e for e in engines}
    for tier in TIERS:
        url = settings.proxy.tier(tier).url[0]
        engine = managed.get(tier)
        log = str(run_dir.log(tier)) if engine else None
        parts.append(PartState(tier, url, engine.server.pid if engine else None, log))
    return StackState(os.getpid(), router_url, parts)


async def _serve(
    settings: Settings,
    engines: list[Engine],
    stack: StackConfig,
    run_dir: RunDir,
    state: StackState,
    echo: Echo,
    log_level: str,
) -> None:
    server = make_server(settings, log_level=log_level)
    supervisor = None
    if stack.restart_engines and engines:
        supervisor = asyncio.create_task(_supervise(engines, run_dir, state, echo))
    try:
        await server.serve()
    finally:
        if supervisor is not None:
            supervisor.cancel()


async def _supervise(engines: list[Engine], run_dir: RunDir, state: StackState, echo: Echo) -> None:
    """Restart an engine that exits (at most _MAX_RESTARTS in 10 minutes)."""
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
            echo(f"{engine.tier} engine exited with code {code}; restarting "
                 f"(log: {engine.server.log_path})")  # fmt: skip
            try:  # a full disk (logs, state file) must not end supervision
                engine.server.start()
                for part in state.parts:
                    if part.name == engine.tier:
                        part.pid = engine.server.pid
                run_dir.write(state)
            except (OSError, StratumError) as exc:
                echo(f"{engine.tier} engine: restart failed: {exc}; will try again")
                continue
            if len(engine.restarts) >= _MAX_RESTARTS:
                echo(f"{engine.tier} engine restarted {_MAX_RESTARTS} times in 10 minutes; "
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
