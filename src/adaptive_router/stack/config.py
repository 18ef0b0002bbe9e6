"""StackConfig: the local engines ``stratum up`` starts, one per tier.

A tier whose proxy URL is set (``--tier-high-url``) is not started: the stack uses that
server (any OpenAI-compatible one: vLLM, SGLang, llama.cpp, Ollama) as it is.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from adaptive_router.settings.fields import setting, validate


@dataclass(frozen=True, slots=True)
class EngineConfig:
    """One local llama-server."""

    model: str = setting("", "GGUF file to serve. Empty = the embedded Gemma 3 270M.")
    port: int = setting(8081, "Port of this tier's llama-server.", 1, 65535)
    parallel: int = setting(4, "Parallel slots (requests decoded together).", 1, 256)
    ctx_size: int = setting(4096, "Total context in tokens, shared by the slots.", 256, 1 << 20)
    threads: int = setting(0, "CPU threads. 0 = half the cores each.", 0, 1024)
    args: str = setting("", "Extra llama-server arguments, e.g. '--n-gpu-layers 99'.")

    def __post_init__(self) -> None:
        validate(self)


@dataclass(frozen=True, slots=True)
class StackConfig:
    """The embedded local stack."""

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
    restart_engines: bool = setting(True, "Restart an engine that exits unexpectedly.")
    strict: bool = setting(
        False,
        "Refuse to start when the engines will not fit in the free GPU memory NVML reports "
        "(otherwise a warning; see stratum fit).",
    )

    def __post_init__(self) -> None:
        validate(self)

    def state_dir(self) -> Path:
        """The run directory, resolved."""
        if self.run_dir:
            return Path(self.run_dir).expanduser()
        base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
        return Path(base) / "stratum"
