"""deploy/compose.yaml's llama.cpp command line, run by the real llama-server parser: the same
build (b11434) as the compose image, on the embedded model instead of the 26B download. vLLM
does not install here; its flags follow vLLM's Gemma 4 recipe (see docs/DEPLOY.md)."""

from __future__ import annotations

import json
import re
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest
import yaml

from adaptive_router.bench.fake_engine import free_port
from adaptive_router.stack import default_model, llama_server_binary
from tests.deploy.conftest import REPO


def compose_command(service: str) -> list[str]:
    """The service's command with every ${NAME:-default} replaced by its default."""
    compose = yaml.safe_load((REPO / "deploy" / "compose.yaml").read_text())
    return [
        re.sub(r"\$\{\w+:-([^}]*)\}", r"\1", arg) for arg in compose["services"][service]["command"]
    ]


@pytest.mark.engine
def test_composes_llama_flags_start_a_real_llama_server(tmp_path: Path) -> None:
    flags = compose_command("llama")
    assert "--jinja" in flags
    assert "--metrics" in flags
    local = {"--hf-repo": ("--model", str(default_model())), "--host": ("--host", "127.0.0.1"),
             "--port": ("--port", str(free_port()))}  # fmt: skip
    args = []
    for i, flag in enumerate(flags):
        if flag in local:
            args += local[flag]
        elif i == 0 or flags[i - 1] not in local:
            args.append(flag)
    port = args[args.index("--port") + 1]
    log = tmp_path / "llama.log"
    with log.open("w") as out:
        server = subprocess.Popen(
            [str(llama_server_binary()), *args], stdout=out, stderr=subprocess.STDOUT
        )
    try:
        models = wait_models(f"http://127.0.0.1:{port}", server, log)
        assert [m["id"] for m in models["data"]] == ["gemma-4-26b-a4b"]  # --alias: Stratum asks it
    finally:
        server.terminate()
        server.wait(30)


def wait_models(
    url: str, server: subprocess.Popen[bytes], log: Path
) -> dict[str, list[dict[str, str]]]:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        assert server.poll() is None, f"llama-server refused compose's flags:\n{log.read_text()}"
        try:
            with urllib.request.urlopen(url + "/health", timeout=1):
                pass
            with urllib.request.urlopen(url + "/v1/models", timeout=5) as r:
                return json.load(r)  # type: ignore[no-any-return]
        except OSError:
            time.sleep(0.3)
    raise AssertionError(f"llama-server not ready after 90 s:\n{log.read_text()}")


def test_stratum_asks_each_engine_for_the_name_it_serves() -> None:
    compose = yaml.safe_load((REPO / "deploy" / "compose.yaml").read_text())
    stratum = compose["services"]["stratum"]["environment"]
    assert "--served-model-name=gemma-4-e4b" in compose_command("vllm")
    llama = compose_command("llama")
    assert llama[llama.index("--alias") + 1] == "gemma-4-26b-a4b"
    assert stratum["STRATUM_TIER_LOW_MODEL"] == "${LOW_SERVED_NAME:-gemma-4-e4b}"
    assert stratum["STRATUM_TIER_HIGH_MODEL"] == "${HIGH_SERVED_NAME:-gemma-4-26b-a4b}"
