"""Before ``stratum up`` starts its engines: will they fit in the GPU memory NVML sees?

Each local llama-server is sized with :mod:`adaptive_router.fit` (its GGUF, ``-c``, ``-np``
and the cache flags in its extra arguments); a vLLM or SGLang engine needs the share of the
GPU its ``gpu_memory`` gives it. The sum is held against the free memory of the GPUs NVML
reports. Too little: a warning, or with ``strict`` a refusal. No NVML: the GPU is "unknown"
and the needs are printed without a verdict; nothing is refused on a guess. A llama-server
that keeps weights in CPU memory (``--cpu-moe``, ``--n-cpu-moe``, ``-ngl 0``) is not
sized: the estimate would count weights that never reach the GPU.

    >>> check_stack_fits([("tier_low", spec)], strict=False, echo=print)  # doctest: +SKIP
    fit check: the engines need 0.66 GiB (tier_low 0.33, tier_high 0.33); GPU unknown: ...
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from adaptive_router.errors import StackError, StratumError
from adaptive_router.fit import FitOptions, Gpu, estimate, load_model
from adaptive_router.fit.load import nvml_gpus
from adaptive_router.fit.memory import GiB
from adaptive_router.stack.llama import LlamaServerSpec

_KV_TYPE = ("-ctk", "--cache-type-k")
_CPU_WEIGHTS = ("-cmoe", "--cpu-moe", "-ncmoe", "--n-cpu-moe")
_GPU_LAYERS = ("-ngl", "--gpu-layers", "--n-gpu-layers")
_UBATCH = ("-ub", "--ubatch-size")


@dataclass(frozen=True, slots=True)
class StackFit:
    """What the check found: bytes per engine, the GPU (None: unknown) and the verdict."""

    needs: tuple[tuple[str, int], ...]
    gpu: Gpu | None
    fits: bool | None
    message: str

    @property
    def needed_bytes(self) -> int:
        return sum(n for _, n in self.needs)


def engine_options(spec: LlamaServerSpec) -> FitOptions:
    """The fit options a llama-server command line amounts to."""
    args = list(spec.extra_args)
    values = dict(itertools.pairwise(args))
    kv = next((values[f] for f in _KV_TYPE if f in values), "f16")
    ubatch = next((int(values[f]) for f in _UBATCH if f in values), 512)
    return FitOptions(
        ctx=spec.ctx_size,
        parallel=spec.parallel,
        kv_dtype=kv,
        swa_full="--swa-full" in args,
        kv_unified=bool({"-kvu", "--kv-unified"} & set(args)),
        ubatch=ubatch,
    )


def check_stack_fits(
    engines: Sequence[tuple[str, LlamaServerSpec]],
    strict: bool,
    echo: Callable[[str], None],
    *,
    nvml: Any = None,
    gpu: Gpu | None = None,
    shares: Sequence[tuple[str, float]] = (),
) -> StackFit:
    """Size ``engines``, grade them against ``gpu`` (default: NVML), report through ``echo``.

    ``shares`` are (name, fraction of the GPU) of vLLM/SGLang engines, added to the needs
    once the GPU's size is known. Raises StackError when they will not fit and ``strict`` is
    set. No engines: no check.
    """
    if not engines and not shares:
        return StackFit((), None, None, "")
    for name, spec in engines:
        if _weights_on_cpu(spec):
            echo(f"fit check: {name} keeps weights in CPU memory ({' '.join(spec.extra_args)}): "
                 "not sized")  # fmt: skip
    try:
        needs = tuple((name, _needed(spec)) for name, spec in engines if not _weights_on_cpu(spec))
    except (StratumError, ValueError) as exc:
        result = StackFit((), None, None, f"fit check skipped: {exc}")
        echo(result.message)
        return result
    why = ""
    if gpu is None:
        gpu, why = nvml_gpus(nvml=nvml)
    if gpu is not None:
        needs += tuple((name, round(share * gpu.total_bytes)) for name, share in shares)
    elif shares:
        why += "; " + ", ".join(f"{name} takes {share:g} of its GPU" for name, share in shares)
    if not needs:  # every engine runs from CPU memory
        return StackFit((), gpu, None, "")
    result = _verdict(needs, gpu, why)
    if result.fits is False and strict:
        raise StackError(result.message + " (--strict: not starting)")
    echo(result.message if result.fits is not False else "warning: " + result.message)
    return result


def _weights_on_cpu(spec: LlamaServerSpec) -> bool:
    args = list(spec.extra_args)
    values = dict(itertools.pairwise(args))
    layers = next((values[f] for f in _GPU_LAYERS if f in values), "")
    return bool(set(_CPU_WEIGHTS) & set(args)) or layers == "0"


def _needed(spec: LlamaServerSpec) -> int:
    return estimate(load_model(spec.model), engine_options(spec)).total_bytes


def _verdict(needs: tuple[tuple[str, int], ...], gpu: Gpu | None, why: str) -> StackFit:
    total = sum(n for _, n in needs)
    parts = ", ".join(f"{name} {n / GiB:.2f}" for name, n in needs)
    need = f"the engines need {total / GiB:.2f} GiB ({parts})"
    if gpu is None:
        return StackFit(needs, None, None, f"fit check: {need}; GPU unknown: {why}")
    have = f"{gpu.free_bytes / GiB:.2f} GiB free ({gpu.source})"
    if total <= gpu.free_bytes:
        return StackFit(needs, gpu, True, f"fit check: {need}; {have}: fits")
    return StackFit(needs, gpu, False, f"fit check: {need} but only {have}: will not fit")
