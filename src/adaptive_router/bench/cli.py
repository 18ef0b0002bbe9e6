"""``stratum bench``: the click command; it loads BenchSettings, plans a BenchConfig and
calls run_bench.

Its flags come from :class:`~adaptive_router.bench.settings.BenchSettings` like every other
command's: each has an environment variable ``STRATUM_BENCH_<OPTION>`` (repeatable options
take a space-separated list there) and a key in the ``[bench]`` table of ``--config FILE``.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import click

from adaptive_router.bench.config import BenchConfig
from adaptive_router.bench.progress import make_progress
from adaptive_router.bench.question import local_engines
from adaptive_router.bench.records import TTFT_DEFINITION
from adaptive_router.bench.settings import BenchSettings, bench_config, load_bench_settings
from adaptive_router.errors import StratumError
from adaptive_router.settings.files import load_sections
from adaptive_router.settings.flags import config_file_option, settings_options

EPILOG = f"""\b
Targets: --target NAME=URL[@MODEL], repeatable. URL is an OpenAI-compatible base URL
(/v1 is added when it has no path); MODEL (default "auto") is the "model" field sent,
taken after the first "@" that follows the URL's path (write /v1 before a model name
holding a "/"); --model NAME=MODEL overrides it.

\b
Prompts: shipped with Stratum, so no download is needed: 300 ShareGPT V3 first-turn
prompts and 200 MATH level-5 problems (sources and licences: adaptive_router/data/
README.md). --data-dir uses your own sharegpt_prompts.jsonl and math_levels.jsonl.
Settings: each flag is also STRATUM_BENCH_<FLAG> and a key of [bench] in --config FILE.

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


@click.command(
    "bench", epilog=EPILOG, context_settings={"help_option_names": ["-h", "--help"],
                                              "max_content_width": 100}
)  # fmt: skip
@config_file_option
@settings_options(BenchSettings)
def bench_command(**opts: Any) -> None:
    """Load-test OpenAI-compatible endpoints: TTFT, TPOT, ITL and E2E percentiles per target
    and load level, routed vs all-to-tier_low vs all-to-tier_high.

    Streams every request, keeps each request's raw timings, and writes JSON, a Markdown
    table and PNG charts to --out. Targets run one after another at each level.
    """
    from adaptive_router.bench.report import answers, markdown, write_outputs
    from adaptive_router.bench.runner import BenchResult, run_bench

    settings, config = _load(opts)
    try:
        config.out.mkdir(parents=True, exist_ok=True)  # fail before the run, not after it
    except OSError as exc:
        raise click.ClickException(f"cannot create --out {config.out}: {exc.strerror}") from None
    if warning := burst_warning(config):
        click.echo(warning, err=True)
    progress = make_progress(settings.progress)
    saved: list[Path] = []

    def checkpoint(partial: BenchResult) -> None:  # what is measured is never lost
        saved[:] = write_outputs(partial, config.out, charts=False)

    try:
        result = asyncio.run(run_bench(config, progress, checkpoint))
        written = write_outputs(result, config.out, charts=settings.charts)
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


def build_config(opts: dict[str, Any]) -> BenchConfig:
    """The command's options -> BenchConfig, or a usage error in one line."""
    return _load(opts)[1]


def _load(opts: dict[str, Any]) -> tuple[BenchSettings, BenchConfig]:
    """The settings (file < environment < flags, over the preset) and the run they ask for."""
    config_path = opts.get("config_path")
    try:
        settings = load_bench_settings(config_path, overrides=opts)
        return settings, bench_config(settings, _baselines(settings, config_path))
    except StratumError as exc:
        raise click.UsageError(str(exc)) from None


def _baselines(settings: BenchSettings, config_path: Path | None) -> tuple[str, str]:
    """--preset with no engine URL given: the engines of the local stack serving the router."""
    if settings.preset is None or settings.target or settings.high_url or settings.low_url:
        return "", ""
    high, low = local_engines(settings.router_url, _run_dir(config_path))
    if high or low:
        click.echo(f"routing-question: the baselines go straight to the engines of the local "
                   f"stack: tier_high {high or '-'}, tier_low {low or '-'}", err=True)  # fmt: skip
    return high or "", low or ""


def _run_dir(config_path: Path | None) -> Path:
    """The local stack's run directory, from its settings ([stack], STRATUM_RUN_DIR)."""
    from adaptive_router.stack.config import StackConfig

    stack: StackConfig = load_sections(config_path, {"stack": StackConfig})["stack"]
    return stack.state_dir()
