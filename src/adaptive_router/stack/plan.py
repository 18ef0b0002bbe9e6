"""``stratum up --dry-run``: every command and file the stack would run or write, as a script.

Nothing is started, written or locked. Each part of the stack is a
:class:`~adaptive_router.stack.process.Launch` and contributes its own lines: a comment
naming it and its health URL, a heredoc per file it needs, then its command with the
environment it adds. The router, which ``stratum up`` runs in-process, is shown as the
equivalent ``stratum serve`` line. The output is a shell script: paste it to run the stack
by hand.

    >>> print(render([Launch("tier_low engine", ("vllm", "serve", "m"))]))  # doctest: +SKIP
"""

from __future__ import annotations

import shlex
from collections.abc import Callable, Sequence

from adaptive_router.proxy.config import Settings
from adaptive_router.stack.config import StackConfig
from adaptive_router.stack.engines import EnginePlan, plan_engines
from adaptive_router.stack.process import Launch
from adaptive_router.tiers import TIERS, Tier

_WIDTH = 96  # wrap long commands (with " \") below this many characters


def dry_run(
    settings: Settings,
    stack: StackConfig,
    echo: Callable[[str], None] = print,
    services: Sequence[str] = (),
) -> None:
    """Print what ``stratum up`` (with ``--with services``) would run; start nothing."""
    plan = plan_engines(settings, stack)
    notes = [f"not here: {line}" for line in plan.missing]
    launches = [engine.launch for engine in plan.engines]
    launches.append(router_launch(settings, plan))
    if services:
        from adaptive_router.stack.services import plan_services

        urls: dict[str, list[str]] = {t: engine_urls(settings, plan, t) for t in TIERS}
        planned = plan_services(
            services, stack.services, settings.proxy, urls, stack.state_dir(), dry_run=True
        )
        launches += planned.launches
        notes += planned.notes
    echo(render(launches, notes))


def engine_urls(settings: Settings, plan: EnginePlan, tier: Tier) -> list[str]:
    """The base URLs ``tier`` is served at: its planned engines, else its configured URLs."""
    return [e.base_url for e in plan.engines if e.tier == tier] or list(
        settings.proxy.tier(tier).url
    )


def router_launch(settings: Settings, plan: EnginePlan) -> Launch:
    """The router as the ``stratum serve`` command that runs it against the planned engines."""
    argv = ["stratum", "serve", "--host", settings.proxy.host, "--port", str(settings.proxy.port)]
    for tier in TIERS:
        argv += [f"--{tier.replace('_', '-')}-url", ",".join(engine_urls(settings, plan, tier))]
    health = f"http://{settings.proxy.host}:{settings.proxy.port}/health"
    return Launch("router (in-process in stratum up; other settings as given)", tuple(argv),
                  health_url=health)  # fmt: skip


def render(launches: Sequence[Launch], notes: Sequence[str] = ()) -> str:
    """The launches as one shell script, in start order, each with its files first."""
    lines = ["#!/bin/sh", "# stratum up --dry-run: what would run, in order (nothing started)"]
    lines += [f"# {note}" for note in notes]
    for launch in launches:
        lines.append("")
        health = f" -> ready when {launch.health_url} answers 200" if launch.health_url else ""
        lines.append(f"# {launch.name}{health}")
        for path, text in launch.files:
            lines.append(f"mkdir -p {shlex.quote(str(path.parent))}")
            lines.append(f"cat > {shlex.quote(str(path))} <<'STRATUM_EOF'")
            lines.append(text.rstrip("\n"))
            lines.append("STRATUM_EOF")
        lines.append(_wrapped(launch) + " &")
    lines += ["", "wait"]
    return "\n".join(lines)


def _wrapped(launch: Launch) -> str:
    """The launch's shell line, broken before an option where it would pass _WIDTH."""
    words = launch.words()
    lines = [words[0]]
    for word in words[1:]:
        if word.startswith("-") and len(lines[-1]) + 1 + len(word) > _WIDTH:
            lines.append("    " + word)
        else:
            lines[-1] += " " + word
    return " \\\n".join(lines)
