"""``stratum fit``: does this model fit on this GPU, with how much context and how many users.

Thin: builds :class:`FitOptions`, reads the model and the GPU, prints the report. Bad input
ends in one line naming what is wrong (exit code 1); a model that does not fit exits 0 with
the verdict (``"fits": false`` in ``--json``), since that is an answer, not an error.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from adaptive_router.errors import StratumError
from adaptive_router.fit.dtypes import KV_DTYPES, QUANTS
from adaptive_router.fit.fitting import FitReport, fit
from adaptive_router.fit.load import given_gpu, load_model, nvml_gpu
from adaptive_router.fit.memory import ENGINES, FitOptions
from adaptive_router.fit.render import as_json, as_table

_ENV = "STRATUM_FIT_"


def _option(*decls: str, **kwargs: Any) -> click.Option:
    """A flag with its environment variable, ``STRATUM_FIT_<NAME>``, shown in ``--help``."""
    name = decls[0].lstrip("-").replace("-", "_").upper()
    return click.Option(decls, envvar=_ENV + name, show_envvar=True, show_default=True, **kwargs)


def run_fit(
    model: Path,
    options: FitOptions,
    gpu_gb: float | None = None,
    gpu_index: int = 0,
    quant: str | None = None,
) -> tuple[FitReport, str]:
    """The report for ``model``, and why the GPU is unknown when it is."""
    shape = load_model(model, quant)
    if gpu_gb is not None:
        if not 0 < gpu_gb <= 100_000:
            raise click.ClickException(f"--gpu-gb must be a size in GiB above 0, got {gpu_gb:g}")
        return fit(shape, options, given_gpu(gpu_gb)), ""
    gpu, why = nvml_gpu(gpu_index)
    return fit(shape, options, gpu), why


_HELP = {
    "engine": f"Engine: {', '.join(ENGINES)}.",
    "ctx": "llama.cpp: -c, all slots together; vLLM/SGLang: --max-model-len, per sequence.",
    "parallel": "llama.cpp: -np slots; vLLM/SGLang: sequences that must fit at --ctx at once.",
    "kv_dtype": f"KV cache type: {', '.join(KV_DTYPES)}.",
    "swa_full": "llama.cpp --swa-full: a full-size cache for sliding-window layers.",
    "kv_unified": "llama.cpp -kvu: one cache shared by all slots.",
    "ubatch": "llama.cpp -ub (physical batch).",
    "gpu_gb": "Grade against a GPU with this many GiB free [default: what NVML sees].",
    "gpu_index": "The GPU NVML reads.",
    "utilization": "vLLM --gpu-memory-utilization / SGLang --mem-fraction-static.",
    "eager": "vLLM/SGLang without CUDA graphs (--enforce-eager).",
    "quant": f"Size a config.json model's weights as one of: {', '.join(QUANTS)} "
    "[default: its safetensors, else its dtype or quantization_config].",
}


@click.command(
    "fit",
    params=[
        click.Argument(["model"], type=click.Path(path_type=Path)),
        _option("--engine", default="llama.cpp", help=_HELP["engine"]),
        _option("--ctx", type=int, default=4096, help=_HELP["ctx"]),
        _option("--parallel", type=int, default=1, help=_HELP["parallel"]),
        _option("--kv-dtype", default="f16", help=_HELP["kv_dtype"]),
        _option("--swa-full", is_flag=True, help=_HELP["swa_full"]),
        _option("--kv-unified", is_flag=True, help=_HELP["kv_unified"]),
        _option("--ubatch", type=int, default=512, help=_HELP["ubatch"]),
        _option("--gpu-gb", type=float, help=_HELP["gpu_gb"]),
        _option("--gpu-index", type=int, default=0, help=_HELP["gpu_index"]),
        _option("--gpu-memory-utilization", type=float, default=0.9, help=_HELP["utilization"]),
        _option("--enforce-eager", is_flag=True, help=_HELP["eager"]),
        _option("--quant", help=_HELP["quant"]),
        _option("--json", "as_json_", is_flag=True, help="Print JSON (bytes) for scripts."),
    ],
)
def fit_command(
    model: Path, gpu_gb: float | None, gpu_index: int, quant: str | None, as_json_: bool,
    **flags: object,
) -> None:  # fmt: skip
    """What MODEL needs in GPU memory, and whether it fits: weights, KV cache (sliding-window
    and global layers apart), compute buffers, what is left on the GPU, and the largest
    context and slot count that fit. MODEL is a .gguf file, a config.json or a model folder.

    Without --gpu-gb it grades against the free memory NVML reports; without NVML the GPU is
    unknown and only the sizes are shown.

    \b
    Examples:
      stratum fit gemma-3-270m-q4_k_m.gguf --ctx 4096 --parallel 4 --gpu-gb 16
      stratum fit deploy/models/gemma-4-E4B-it.json --engine vllm --ctx 8192 \\
          --kv-dtype fp8 --gpu-gb 16 --json
    """
    try:
        options = FitOptions(**flags)  # type: ignore[arg-type]
        report, why = run_fit(model, options, gpu_gb, gpu_index, quant)
    except StratumError as exc:
        raise click.ClickException(str(exc)) from None
    if as_json_:
        click.echo(json.dumps(as_json(report, why), indent=2))
    else:
        click.echo(as_table(report, why))
