"""BenchSettings: every option of ``stratum bench``, declared once like every other setting.

Each setting is a flag (``--hard-share``), an environment variable (``STRATUM_BENCH_<NAME>``)
and a key of a ``[bench]`` table in the ``--config`` file, loaded in rising precedence:
defaults < the ``--preset``'s values < file < environment < flags. :func:`bench_config`
turns the settings into the :class:`~adaptive_router.bench.config.BenchConfig` a run uses:
targets parsed, the preset's targets filled in, defaults that depend on other settings
resolved.

    >>> settings = BenchSettings(target=("low=http://127.0.0.1:8081",), workload="synthetic")
    >>> config = bench_config(settings)
    >>> config.targets[0].url, config.ignore_eos, config.requests
    ('http://127.0.0.1:8081/v1', True, 100)
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Literal

from adaptive_router.bench.config import (
    Api,
    BenchConfig,
    WorkloadKind,
    apply_models,
    parse_levels,
    parse_target,
)
from adaptive_router.bench.question import Preset, preset_targets
from adaptive_router.settings.fields import setting, validate
from adaptive_router.settings.files import load_sections

DEFAULT_REQUESTS = 100


@dataclass(frozen=True, slots=True)
class BenchSettings:
    """What the user asked of ``stratum bench`` (see docs/configuration.md for the table)."""

    ENV_PREFIX: ClassVar[str] = "STRATUM_BENCH_"

    target: tuple[str, ...] = setting(
        (), "An endpoint to load; repeat for side-by-side runs.",
        metavar="NAME=URL[@MODEL]", repeat=True,
    )  # fmt: skip
    model: tuple[str, ...] = setting(
        (), "Model sent to target NAME (or, without NAME=, to every target).",
        metavar="[NAME=]MODEL", repeat=True,
    )  # fmt: skip
    preset: Literal["routing-question"] | None = setting(
        None,
        "routing-question: mixed workload at c=8 against --router-url three ways (auto, "
        "gemma4-smart, gemma4-lite); options you give win. Default: no preset.",
    )
    router_url: str = setting("http://127.0.0.1:9000/v1", "Stratum's base URL, for --preset.")
    high_url: str = setting(
        "",
        "--preset: load tier_high's engine here directly for all-high. Empty: the engine "
        "`stratum up` started for that router, else through Stratum, forced (that feeds "
        "Stratum's TTFT estimate, see the docs).",
    )
    low_url: str = setting(
        "", "--preset: load tier_low's engine here directly for all-low (empty: as for --high-url)."
    )
    workload: WorkloadKind = setting(
        "sharegpt",
        "sharegpt: real prompts; synthetic: --input-tokens words; mixed: easy ShareGPT "
        "chit-chat + hard MATH level-5 and code/reasoning asks.",
    )
    data_dir: str = setting(
        "",
        "Folder with your own sharegpt_prompts.jsonl and math_levels.jsonl. Empty = the "
        "prompts bundled with Stratum (300 ShareGPT, 200 MATH level-5).",
        metavar="DIR",
    )
    hard_share: float = setting(0.3, "mixed: share of hard prompts.", 0.0, 1.0)
    input_tokens: int = setting(256, "synthetic: prompt length in tokens (approximate).", 1)
    output_tokens: int = setting(128, "max_tokens of every request.", 1)
    ignore_eos: bool | None = setting(
        None,
        'Send "ignore_eos": true (llama.cpp, vLLM, SGLang) so every answer is --output-tokens '
        "long. Default: on for synthetic, else off.",
    )
    max_prompt_chars: int = setting(
        3000, "sharegpt: leave out longer prompts (about 4 characters a token).", 1
    )
    api: Api = setting("chat", "chat: /v1/chat/completions; completions: /v1/completions.")
    concurrency: str = setting(
        "1,10,50", "Closed loop: comma-separated numbers of concurrent users, one level each."
    )
    rate: str = setting(
        "", "Open loop instead: comma-separated Poisson rates in requests/s. Empty = closed loop."
    )
    requests: int | None = setting(
        None,
        f"Measured requests per target and level. Default: {DEFAULT_REQUESTS}, or unbounded "
        "with --duration.",
        1,
    )
    duration: float | None = setting(
        None,
        "Seconds per target and level (in-flight requests are waited for). Default: none, "
        "--requests bounds each level.",
        0.001,
    )
    warmup: int = setting(2, "Warm-up requests per target and level, not measured.", 0)
    seed: int = setting(0, "Seed of the prompts and the arrivals.")
    temperature: float = setting(0.0, "Sampling temperature.", 0.0)
    timeout: float = setting(
        300.0, "Seconds a request may take before it counts as an error.", 0.001
    )
    keep_alive: bool = setting(
        False, "Reuse connections between requests (off: a fresh one per request)."
    )
    unique_prefix: bool = setting(
        True,
        "Start every request with a tag of its own (a system message in chat, which Stratum "
        "does not score; a first line in completions) so no engine answers from a prefix "
        "cached by another level, target or run.",
    )
    api_key: str = setting("", "Bearer token sent to every target.", secret=True)
    out: str = setting("stratum-bench", "Folder for the results.", metavar="DIR")
    label: str = setting(
        "",
        "Where it ran, e.g. '2 CPU cores, Gemma 3 270M Q4_K_M, llama-server'; shown in the "
        "Markdown heading and the chart titles.",
    )
    charts: bool = setting(True, "Draw the PNG charts (matplotlib).")
    progress: bool = setting(True, "Show progress on stderr.")

    def __post_init__(self) -> None:
        validate(self)


def load_bench_settings(
    path: str | os.PathLike[str] | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> BenchSettings:
    """Defaults < the preset's values < file ([bench]) < environment < overrides (flags)."""
    kwargs: dict[str, Any] = {"environ": environ, "overrides": overrides}
    settings: BenchSettings = load_sections(path, {"bench": BenchSettings}, **kwargs)["bench"]
    if settings.preset is not None:
        base = {"bench": dataclasses.asdict(Preset())}
        settings = load_sections(path, {"bench": BenchSettings}, base=base, **kwargs)["bench"]
    return settings


def bench_config(settings: BenchSettings, baselines: tuple[str, str] = ("", "")) -> BenchConfig:
    """The run ``settings`` ask for; ``baselines``: the preset's all-high and all-low URLs.

    Without ``--target``, a preset loads ``--router-url`` three ways; its baselines go to
    ``baselines`` when given (else ``--high-url`` / ``--low-url``), else through Stratum.
    """
    s = settings
    targets = apply_models([parse_target(spec) for spec in _target_specs(s, baselines)], s.model)
    requests = s.requests
    if requests is None and s.duration is None:
        requests = DEFAULT_REQUESTS
    return BenchConfig(
        targets=tuple(targets),
        workload=s.workload,
        data_dir=Path(s.data_dir).expanduser() if s.data_dir else None,
        concurrencies=tuple(int(c) for c in parse_levels(s.concurrency, int, "--concurrency")),
        rates=parse_levels(s.rate, float, "--rate") if s.rate else (),
        requests=requests,
        duration_s=s.duration,
        warmup=s.warmup,
        seed=s.seed,
        input_tokens=s.input_tokens,
        output_tokens=s.output_tokens,
        ignore_eos=s.workload == "synthetic" if s.ignore_eos is None else s.ignore_eos,
        hard_share=s.hard_share,
        max_prompt_chars=s.max_prompt_chars,
        api=s.api,
        temperature=s.temperature,
        timeout_s=s.timeout,
        keep_alive=s.keep_alive,
        unique_prefix=s.unique_prefix,
        label=s.label,
        api_key=s.api_key,
        out=Path(s.out).expanduser(),
    )


def _target_specs(settings: BenchSettings, baselines: tuple[str, str]) -> tuple[str, ...]:
    if settings.target or settings.preset is None:
        return settings.target
    high = baselines[0] or settings.high_url or None
    low = baselines[1] or settings.low_url or None
    return tuple(preset_targets(settings.router_url, high, low))
