"""``stratum bench``: the click command; it builds a BenchConfig and calls run_bench.

Every option has an environment variable ``STRATUM_BENCH_<OPTION>`` (repeatable options
take a space-separated list there).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from adaptive_router.bench.config import (
    WORKLOADS,
    BenchConfig,
    Target,
    apply_models,
    parse_levels,
    parse_target,
)
from adaptive_router.bench.progress import make_progress
from adaptive_router.bench.question import PRESETS, Preset, local_engines, preset_targets
from adaptive_router.bench.records import TTFT_DEFINITION
from adaptive_router.errors import StratumError

F = TypeVar("F", bound=Callable[..., Any])
DEFAULT_REQUESTS = 100
EPILOG = f"""\b
Targets: --target NAME=URL[@MODEL], repeatable. URL is an OpenAI-compatible base URL
(/v1 is added when it has no path); MODEL (default "auto") is the "model" field sent,
taken after the first "@" that follows the URL's path (write /v1 before a model name
holding a "/"); --model NAME=MODEL overrides it.

\b
Examples:
  # the routing question against a running `stratum up`: routed vs all-high vs all-low,
  # the baselines straight to the engines it started (Stratum's state stays its own)
  stratum bench --preset routing-question --concurrency 1,4,8
  # the same against servers started elsewhere: name the engines
  stratum bench --preset routing-question --router-url http://gw:9000/v1 \\
      --high-url http://gpu:8000/v1@google/gemma-3-27b-it --low-url http://gpu:8081/v1
  # side by side: direct tier_low, direct tier_high, routed; concurrency sweep
  stratum bench --target low=http://127.0.0.1:8081/v1 --target high=http://127.0.0.1:8082/v1 \\
      --target routed=http://127.0.0.1:9000/v1@auto --concurrency 1,10,50 --requests 200
  # fixed 512 tokens in / 128 out, Poisson arrivals at 2 and 4 req/s for 60 s each
  stratum bench --target vllm=http://gpu:8000/v1@google/gemma-3-4b-it --workload synthetic \\
      --input-tokens 512 --output-tokens 128 --rate 2,4 --duration 60

{TTFT_DEFINITION}. ITL: gaps between content events. TPOT: (E2E - TTFT) / (output
tokens - 1). Output tokens: usage.completion_tokens of the final usage event
(stream_options.include_usage), else the number of content events. Results: --out
DIR/results.json (config, aggregates, raw records), results.md, ttft_vs_load.png,
routed_vs_baselines.png; the first two are saved after every target and level, so Ctrl-C
keeps what was measured. The tool measures speed, not answer quality.
"""


def _option(*decls: str, **kwargs: Any) -> Callable[[F], F]:
    name = decls[0].split("/")[0].lstrip("-").replace("-", "_").upper()
    kwargs.setdefault("show_default", True)
    return click.option(*decls, envvar=f"STRATUM_BENCH_{name}", show_envvar=True, **kwargs)


OPTIONS: list[Callable[[Any], Any]] = [
    _option("--target", "targets", multiple=True, metavar="NAME=URL[@MODEL]",
            help="An endpoint to load; repeat for side-by-side runs."),
    _option("--model", "models", multiple=True, metavar="[NAME=]MODEL",
            help="Model sent to target NAME (or, without NAME=, to every target)."),
    _option("--preset", type=click.Choice(PRESETS),
            help="routing-question: mixed workload at c=8 against --router-url three ways "
                 "(auto, gemma4-smart, gemma4-lite); options you give win."),
    _option("--router-url", default="http://127.0.0.1:9000/v1",
            help="Stratum's base URL, for --preset."),
    _option("--high-url",
            help="--preset: load tier_high's engine here directly for all-high. Default: the "
                 "engine `stratum up` started for that router, else through Stratum, forced "
                 "(that feeds Stratum's TTFT estimate, see the docs)."),
    _option("--low-url", help="--preset: load tier_low's engine here directly for all-low "
                              "(default: as for --high-url)."),
    _option("--workload", type=click.Choice(WORKLOADS), default="sharegpt",
            help="sharegpt: real prompts; synthetic: --input-tokens words; mixed: easy "
                 "ShareGPT chit-chat + hard MATH level-5 and code/reasoning asks."),
    _option("--data-dir", type=click.Path(file_okay=False, path_type=Path),
            help="Folder with sharegpt_prompts.jsonl and math_levels.jsonl "
                 "[default: ../shared/data beside the checkout]"),
    _option("--hard-share", type=click.FloatRange(0, 1), default=0.3,
            help="mixed: share of hard prompts."),
    _option("--input-tokens", type=click.IntRange(1), default=256,
            help="synthetic: prompt length in tokens (approximate)."),
    _option("--output-tokens", type=click.IntRange(1), default=128,
            help="max_tokens of every request."),
    _option("--ignore-eos/--no-ignore-eos", default=None, show_default=False,
            help='Send "ignore_eos": true (llama.cpp, vLLM, SGLang) so every answer is '
                 "--output-tokens long [default: on for synthetic, else off]."),
    _option("--max-prompt-chars", type=click.IntRange(1), default=3000,
            help="sharegpt: leave out longer prompts (about 4 characters a token)."),
    _option("--api", type=click.Choice(["chat", "completions"]), default="chat",
            help="/v1/chat/completions or /v1/completions."),
    _option("--concurrency", default="1,10,50",
            help="Closed loop: comma-separated numbers of concurrent users, one level each."),
    _option("--rate", help="Open loop instead: comma-separated Poisson rates in requests/s."),
    _option("--requests", type=click.IntRange(1),
            help=f"Measured requests per target and level [default: {DEFAULT_REQUESTS}, "
                 "or unbounded with --duration]"),
    _option("--duration", type=click.FloatRange(0, min_open=True),
            help="Seconds per target and level (in-flight requests are waited for)."),
    _option("--warmup", type=click.IntRange(0), default=2,
            help="Warm-up requests per target and level, not measured."),
    _option("--seed", type=int, default=0, help="Seed of the prompts and the arrivals."),
    _option("--temperature", type=click.FloatRange(0), default=0.0, help="Sampling temperature."),
    _option("--timeout", type=click.FloatRange(0, min_open=True), default=300.0,
            help="Seconds a request may take before it counts as an error."),
    _option("--keep-alive/--no-keep-alive", default=False,
            help="Reuse connections between requests (default: a fresh one per request)."),
    _option("--unique-prefix/--no-unique-prefix", default=True,
            help="Start every request with a tag of its own (a system message in chat, which "
                 "Stratum does not score; a first line in completions) so no engine answers "
                 "from a prefix cached by another level, target or run."),
    _option("--api-key", default="", show_default=False,
            help="Bearer token sent to every target."),
    _option("--out", type=click.Path(file_okay=False, path_type=Path),
            default=Path("stratum-bench"), help="Folder for the results."),
    _option("--label", default="", show_default=False,
            help="Where it ran, e.g. '2 CPU cores, Gemma 3 270M Q4_K_M, llama-server'; "
                 "shown in the Markdown heading and the chart titles."),
    _option("--charts/--no-charts", default=True, help="Draw the PNG charts (matplotlib)."),
    _option("--progress/--no-progress", default=True, help="Show progress on stderr."),
]  # fmt: skip


def _apply(options: list[Callable[[Any], Any]]) -> Callable[[F], F]:
    def decorate(func: F) -> F:
        for option in reversed(options):
            func = option(func)
        return func

    return decorate


@click.command(
    "bench", epilog=EPILOG, context_settings={"help_option_names": ["-h", "--help"],
                                              "max_content_width": 100}
)  # fmt: skip
@_apply(OPTIONS)
@click.pass_context
def bench_command(ctx: click.Context, /, **opts: Any) -> None:
    """Load-test OpenAI-compatible endpoints: TTFT, TPOT, ITL and E2E percentiles per target
    and load level, routed vs all-to-tier_low vs all-to-tier_high.

    Streams every request, keeps each request's raw timings, and writes JSON, a Markdown
    table and PNG charts to --out. Targets run one after another at each level.
    """
    from adaptive_router.bench.report import answers, markdown, write_outputs
    from adaptive_router.bench.runner import BenchResult, run_bench

    config = build_config(ctx, opts)
    try:
        config.out.mkdir(parents=True, exist_ok=True)  # fail before the run, not after it
    except OSError as exc:
        raise click.ClickException(f"cannot create --out {config.out}: {exc.strerror}") from None
    if warning := burst_warning(config):
        click.echo(warning, err=True)
    progress = make_progress(opts["progress"])
    saved: list[Path] = []

    def checkpoint(partial: BenchResult) -> None:  # what is measured is never lost
        saved[:] = write_outputs(partial, config.out, charts=False)

    try:
        result = asyncio.run(run_bench(config, progress, checkpoint))
        written = write_outputs(result, config.out, charts=opts["charts"])
    except StratumError as exc:
        raise click.ClickException(str(exc)) from None
    except KeyboardInterrupt:
        kept = f"the levels it finished are in {', '.join(map(str, saved))}"
        raise click.ClickException(
            f"interrupted: {kept if saved else 'nothing was written'}"
        ) from None
    click.echo(markdown(result, with_answers=False).split("\n", 2)[2].rstrip())
    for text in answers(result):
        click.echo(f"\nAnswer: {text}")
    click.echo("\nwrote: " + ", ".join(str(p) for p in written))


def burst_warning(config: BenchConfig) -> str | None:
    """A note when a closed-loop level has too few requests to reach a steady state."""
    users = max(config.concurrencies)
    if config.open_loop or config.requests is None or config.requests >= 2 * users:
        return None
    return (
        f"note: {config.requests} requests at c={users} is close to a single burst of {users}; "
        f"give --requests {2 * users} or more (or --duration) to measure a steady state"
    )


def build_config(ctx: click.Context, opts: dict[str, Any]) -> BenchConfig:
    """Options (after the preset) -> BenchConfig, or a usage error in one line."""
    if opts["preset"]:
        opts = _with_preset(ctx, opts)
    try:
        return BenchConfig(**_config_values(opts))
    except StratumError as exc:
        raise click.UsageError(str(exc)) from None


def _with_preset(ctx: click.Context, opts: dict[str, Any]) -> dict[str, Any]:
    preset = Preset()
    merged = dict(opts)
    for name in ("workload", "hard_share", "concurrency", "requests", "warmup",
                 "output_tokens", "ignore_eos"):  # fmt: skip
        if ctx.get_parameter_source(name) in (None, click.core.ParameterSource.DEFAULT):
            merged[name] = getattr(preset, name)
    if not opts["targets"]:
        high, low = opts["high_url"], opts["low_url"]
        if not high and not low:
            high, low = local_engines(opts["router_url"], _run_dir())
            if high or low:
                click.echo(f"routing-question: the baselines go straight to the engines of the "
                           f"local stack: tier_high {high or '-'}, tier_low {low or '-'}",
                           err=True)  # fmt: skip
        merged["targets"] = tuple(preset_targets(opts["router_url"], high, low))
    return merged


def _run_dir() -> Path:
    from adaptive_router.stack.config import StackConfig

    return StackConfig(run_dir=os.environ.get("STRATUM_RUN_DIR", "")).state_dir()


def _config_values(opts: dict[str, Any]) -> dict[str, Any]:
    targets: list[Target] = [parse_target(spec) for spec in opts["targets"]]
    targets = apply_models(targets, opts["models"])
    requests = opts["requests"]
    if requests is None and opts["duration"] is None:
        requests = DEFAULT_REQUESTS
    ignore_eos = opts["ignore_eos"]
    rates = parse_levels(opts["rate"], float, "--rate") if opts["rate"] else ()
    return {
        "targets": tuple(targets),
        "workload": opts["workload"],
        "data_dir": opts["data_dir"],
        "concurrencies": tuple(
            int(c) for c in parse_levels(opts["concurrency"], int, "--concurrency")
        ),
        "rates": rates,
        "requests": requests,
        "duration_s": opts["duration"],
        "warmup": opts["warmup"],
        "seed": opts["seed"],
        "input_tokens": opts["input_tokens"],
        "output_tokens": opts["output_tokens"],
        "ignore_eos": opts["workload"] == "synthetic" if ignore_eos is None else ignore_eos,
        "hard_share": opts["hard_share"],
        "max_prompt_chars": opts["max_prompt_chars"],
        "api": opts["api"],
        "temperature": opts["temperature"],
        "timeout_s": opts["timeout"],
        "keep_alive": opts["keep_alive"],
        "unique_prefix": opts["unique_prefix"],
        "label": opts["label"],
        "api_key": opts["api_key"],
        "out": opts["out"],
    }
