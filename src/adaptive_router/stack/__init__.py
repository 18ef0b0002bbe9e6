"""The embedded local stack: real llama.cpp servers on the real Gemma 3 270M model."""

from adaptive_router.errors import EngineError
from adaptive_router.stack.llama import (
    LlamaServer,
    LlamaServerSpec,
    default_model,
    llama_server_binary,
)

__all__ = ["EngineError", "LlamaServer", "LlamaServerSpec", "default_model", "llama_server_binary"]
