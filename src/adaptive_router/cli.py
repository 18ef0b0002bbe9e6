"""The ``stratum`` command: thin wrappers that build a config and call one function."""

from __future__ import annotations

import importlib
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

import click

from adaptive_router.config import RoutingConfig, load_config
from adaptive_router.errors import StratumError
from adaptive_router.settings.fields import flat_fields, shown
from adaptive_router.settings.files import setting_docs
from adaptive_router.settings.flags import config_file_option, settings_options

if TYPE_CHECKING:
    from adaptive_router.scoring.evaluation import Example

F = TypeVar("F", bound=Callable[..., Any])
_T = TypeVar("_T")


def routing_options(func: F) -> F:
    """``--config`` and one flag per RoutingConfig field."""
    return config_file_option(settings_options(RoutingConfig)(func))


def build_config(config_path: Path | None, flags: dict[str, Any]) -> RoutingConfig:
    """Merge file, environment and flags into a RoutingConfig, or exit with a clear error."""
    names = {name for name, _f, _tp in flat_fields(RoutingConfig)}
    overrides = {k: v for k, v in flags.items() if k in names}
    try:
        return load_config(config_path, overrides=overrides)
    except StratumError as exc:
        raise click.UsageError(str(exc)) from exc


class _Commands(click.Group):
    """A group whose heavy subcommands are imported only when named (or listed by --help)."""

    lazy: ClassVar[dict[str, tuple[str, str]]] = {
        "bench": ("adaptive_router.bench.cli", "bench_command"),
        "fit": ("adaptive_router.fit.cli", "fit_command"),
    }

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted([*super().list_commands(ctx), *self.lazy])

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.lazy:
            module, attr = self.lazy[cmd_name]
            command: click.Command = getattr(importlib.import_module(module), attr)
            return command
        return super().get_command(ctx, cmd_name)


@click.group(
    cls=_Commands,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.version_option(package_name="stratum-router", prog_name="stratum")
def main() -> None:
    """Stratum: one OpenAI-compatible endpoint in front of a small fast LLM tier and a big
    slow one, choosing per request by prompt complexity, GPU headroom and latency.

    Every flag can also be set with the environment variable shown in its help.
    """


@main.command()
@click.argument("prompt")
@click.option("--tier", help="Force a tier (low/high), as a model alias or header would.")
@click.option(
    "--max-tokens",
    type=click.IntRange(min=0),
    help="The answer length the request would get (the context rule adds it to the prompt).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the whole decision as JSON.")
@click.option("-q", "--quiet", is_flag=True, help="Print only the tier.")
@routing_options
def route(
    prompt: str,
    tier: str | None,
    max_tokens: int | None,
    as_json: bool,
    quiet: bool,
    config_path: Path | None,
    **flags: Any,
) -> None:
    """Show which tier PROMPT would go to, and why. PROMPT "-" reads standard input.

    \b
    Examples:
      stratum route "Prove the Riemann hypothesis step by step"
      stratum route --tier-low-context-tokens 1024 --max-tokens 512 - < long_prompt.txt
    """
    from adaptive_router.errors import HTTPError
    from adaptive_router.router import AdaptiveRouter

    if prompt == "-":
        prompt = sys.stdin.read()
    config = build_config(config_path, flags)
    with AdaptiveRouter(config) as router:
        router.refresh()  # a one-shot command: read the GPU once before deciding
        try:
            decision = router.explain(prompt, tier=tier, max_tokens=max_tokens)
        except ValueError as exc:
            raise click.UsageError(str(exc)) from exc
        except HTTPError as exc:  # no tier can take it: what the proxy would answer with a 400
            raise click.ClickException(f"{exc.code}: {exc.message}") from exc
    if as_json:
        click.echo(json.dumps(decision.to_dict(), indent=2))
        return
    click.echo(decision.tier)
    if quiet:
        return
    click.echo(f"  rule:   {decision.rule}: {decision.reason}")
    dims = "  ".join(f"{name} {value:.2f}" for name, value in decision.breakdown.items())
    click.echo(f"  score:  {decision.score:.3f} vs threshold {decision.threshold:.3f}  ({dims})")
    shown = {k: v for k, v in decision.signals.items() if v is not None}
    click.echo("  signals: " + ", ".join(f"{k}={_fmt(v)}" for k, v in shown.items()))


def _fmt(value: float | bool | None) -> str:
    return f"{value:.2f}" if isinstance(value, float) else str(value)


BUNDLED_WEAK, BUNDLED_STRONG = "Mistral-7B-Instruct-v0.1", "gpt-4-turbo"


@main.command("eval")
@click.argument("file", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--weak",
    help="Model whose judge scores are tier_low's outcome. Required with FILE "
    f"[default without FILE: {BUNDLED_WEAK}].",
)
@click.option(
    "--strong",
    help="Model whose judge scores are tier_high's outcome. Required with FILE "
    f"[default without FILE: {BUNDLED_STRONG}].",
)
@click.option(
    "--target-high-share",
    type=click.FloatRange(0.0, 1.0),
    help="Also print the complexity_threshold that sends this share of prompts to tier_high.",
)
def evaluate(
    file: Path | None, weak: str | None, strong: str | None, target_high_share: float | None
) -> None:
    """Measure routing quality (APGR) of the complexity scorer on a judged JSONL file.

    Each line of FILE: {"prompt": "...", "judge_scores": {"model": score, ...}}.
    APGR: send the top-k% of prompts by score to the strong model for k = 0..100; the mean
    share of the weak-to-strong quality gap recovered. Random routing scores 0.50.

    Without FILE it evaluates on the bundled arena-bench-v1 set (300 Chatbot Arena prompts
    judged by GPT-4; lmarena/arena-hard-auto, Apache-2.0). The scorer's weights were fitted
    on that set: it is a development set, not a held-out one, and its APGR flatters the
    scorer. Give your own judged prompts for an honest number.

    \b
    Example:
      stratum eval
      stratum eval judged.jsonl --weak Mistral-7B-Instruct-v0.1 \\
          --strong gpt-4-turbo --target-high-share 0.1
    """
    from adaptive_router.scoring import ComplexityScorer
    from adaptive_router.scoring.evaluation import apgr, pgr_curve, threshold_for_share

    if file is not None and (weak is None or strong is None):
        raise click.UsageError("with FILE, give --weak and --strong: the models it compares")
    weak, strong = weak or BUNDLED_WEAK, strong or BUNDLED_STRONG
    try:
        examples = _judged(file, weak, strong)
        scorer = ComplexityScorer()
        scores = [scorer.score(example.prompt).total for example in examples]
        value = apgr(scores, examples)
        curve = pgr_curve(scores, examples)
    except (StratumError, ValueError) as exc:
        raise click.ClickException(str(exc)) from exc
    source = str(file) if file is not None else "bundled arena-bench-v1 (the scorer's dev set)"
    click.echo(f"data:     {source}")
    click.echo(f"prompts:  {len(examples)}   weak: {weak}   strong: {strong}")
    click.echo(f"APGR:     {value:.3f}   (random routing: 0.500)")
    for pct in (10, 20, 50):
        click.echo(f"PGR at {pct:>2}% sent to tier_high: {curve[pct]:.3f}")
    default = RoutingConfig().complexity_threshold
    share = sum(s >= default for s in scores) / len(scores)
    click.echo(f"share at the default threshold {default:.2f}: {share:.1%}")
    if target_high_share is not None:
        threshold = threshold_for_share(scores, target_high_share)
        click.echo(
            f"complexity_threshold for {target_high_share:.0%} to tier_high: {threshold:.4f}"
        )


def _judged(file: Path | None, weak: str, strong: str) -> list[Example]:
    """The judged examples of ``file``, or of the bundled arena-bench-v1 set."""
    from importlib.resources import as_file

    from adaptive_router.data import ARENA_FILE, bundled
    from adaptive_router.scoring.evaluation import load_outcomes

    if file is not None:
        return load_outcomes(file, weak, strong)
    with as_file(bundled() / ARENA_FILE) as path:
        return load_outcomes(path, weak, strong)


def serve_options(func: F) -> F:
    """``--config``, every routing and proxy setting as a flag, and ``--log-level``."""
    from adaptive_router.proxy.config import ProxyConfig

    func = click.option(
        "--log-level",
        type=click.Choice(["debug", "info", "warning", "error"]),
        default="info",
        envvar="STRATUM_LOG_LEVEL",
        show_envvar=True,
        help="How much the server logs.",
    )(func)
    return config_file_option(settings_options(RoutingConfig)(settings_options(ProxyConfig)(func)))


@click.command("serve")
@serve_options
@click.option(
    "--workers",
    type=click.IntRange(1, 256),
    default=1,
    envvar="STRATUM_WORKERS",
    show_envvar=True,
    show_default=True,
    help="Router processes sharing the port (SO_REUSEPORT). Each keeps its own breakers, "
    "SLA estimate, sessions and metrics; see docs/RELIABILITY.md for how many to run.",
)
def serve_command(config_path: Path | None, log_level: str, workers: int, **flags: Any) -> None:
    """Run the OpenAI-compatible router in front of two tiers.

    \b
    Example:
      stratum serve --tier-low-url http://127.0.0.1:8081/v1 \\
                    --tier-high-url http://127.0.0.1:8082/v1 --port 9000
    """
    from adaptive_router.proxy.config import load_settings
    from adaptive_router.proxy.server import serve

    try:
        settings = load_settings(config_path, overrides=flags)
        serve(settings, log_level=log_level, workers=workers)
    except StratumError as exc:
        raise click.UsageError(str(exc)) from exc


main.add_command(serve_command)


def _stack_settings(config_path: Path | None, flags: dict[str, Any]) -> tuple[Any, Any]:
    from adaptive_router.proxy.config import ProxyConfig, Settings
    from adaptive_router.settings.files import load_sections
    from adaptive_router.stack.config import StackConfig

    try:
        sections = load_sections(
            config_path,
            {"routing": RoutingConfig, "proxy": ProxyConfig, "stack": StackConfig},
            overrides=flags,
        )
    except StratumError as exc:
        raise click.UsageError(str(exc)) from exc
    return Settings(sections["routing"], sections["proxy"]), sections["stack"]


def stack_options(func: F) -> F:
    from adaptive_router.stack.config import StackConfig

    return serve_options(settings_options(StackConfig)(func))


@main.command("up")
@stack_options
@click.option(
    "--dry-run",
    is_flag=True,
    envvar="STRATUM_DRY_RUN",
    show_envvar=True,
    help="Print every command (with its environment) and file the stack would run or write, "
    "as a shell script, and start nothing.",
)
@click.option(
    "--with",
    "with_services",
    metavar="SERVICES",
    envvar="STRATUM_WITH",
    show_envvar=True,
    help="Also run these services around the router, comma-separated: litellm (LiteLLM proxy "
    "on :4000), openwebui (OpenWebUI on :3000), prometheus (Prometheus on :9090). LiteLLM and "
    "OpenWebUI are installed on first use into venvs of their own (OpenWebUI: about 7 GB).",
)
def up_command(
    config_path: Path | None,
    log_level: str,
    dry_run: bool,
    with_services: str | None,
    **flags: Any,
) -> None:
    """Run the whole dual-tier stack here: an engine per tier and the router.

    What serves each tier is the [stack] table of the settings file (the stack definition):
    by default a local llama-server on the embedded Gemma 3 270M model per tier; a tier's
    engine may instead be vllm or sglang (started here if installed), several replicas, or
    an external server (--tier-high-url / --tier-low-url). Ctrl-C or SIGTERM stops
    everything it started.

    \b
    Example:
      stratum up
      stratum up --engine-high-model ~/models/gemma-27b-q4.gguf --engine-high-args "-ngl 99"
      stratum up --config deploy/stacks/gemma4-16gb.toml --dry-run
      stratum up --with litellm,openwebui,prometheus
    """
    from adaptive_router.stack.services import parse_with

    settings, stack = _stack_settings(config_path, flags)
    try:
        services = parse_with(with_services)
    except StratumError as exc:
        raise click.UsageError(str(exc)) from exc
    try:
        if dry_run:
            from adaptive_router.stack.plan import dry_run as print_plan

            print_plan(settings, stack, echo=click.echo, services=services)
            return
        from adaptive_router.stack.up import up

        up(settings, stack, echo=click.echo, log_level=log_level, services=services)
    except StratumError as exc:
        raise click.ClickException(str(exc)) from exc


def _run_dir_option(func: F) -> F:
    return click.option(
        "--run-dir",
        type=click.Path(file_okay=False, path_type=Path),
        envvar="STRATUM_RUN_DIR",
        show_envvar=True,
        help="The stack's run directory [default: ~/.local/state/stratum].",
    )(func)


def _resolve_run_dir(run_dir: Path | None) -> Path:
    from adaptive_router.stack.config import StackConfig

    return StackConfig(run_dir=str(run_dir or "")).state_dir()


def _on_stack(action: Callable[[Path], _T], run_dir: Path | None) -> _T:
    """``action`` on the stack's run directory; its errors as one line for the user."""
    try:
        return action(_resolve_run_dir(run_dir))
    except StratumError as exc:
        raise click.ClickException(str(exc)) from exc


@main.command("status")
@_run_dir_option
def status_command(run_dir: Path | None) -> None:
    """Health of each part of the running local stack. Exit code 1 if any part is down."""
    from adaptive_router.stack.control import status

    report = _on_stack(status, run_dir)
    for part in report:
        mark = "ok  " if part.healthy else "DOWN"
        pid = f"pid {part.pid}" if part.pid else "external"
        click.echo(f"{mark}  {part.name:<10}  {part.url:<28}  {pid:<10}  {part.detail}")
    if not all(part.healthy for part in report):
        raise SystemExit(1)


@main.command("down")
@_run_dir_option
def down_command(run_dir: Path | None) -> None:
    """Stop the running local stack (router, and the engines and services it started)."""
    from adaptive_router.stack.control import down

    state = _on_stack(down, run_dir)
    click.echo(f"stopped the stack at {state.router_url} (pid {state.pid})")


@main.command("config")
@routing_options
def show_config(config_path: Path | None, **flags: Any) -> None:
    """Print the effective routing settings (defaults < file < environment < flags)."""
    config = build_config(config_path, flags)
    for name, env, _default, _help in setting_docs(RoutingConfig):
        click.echo(f"{name} = {shown(getattr(config, name))}    # {env}")
