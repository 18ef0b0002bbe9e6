"""The engine command lines a stack definition makes.

llama.cpp's are checked by llama-server's own argument parser (the binary is installed
here): the command must get as far as loading the (missing) model. vLLM and SGLang do not
run here, so theirs are checked against the flags their documentation lists, cited below.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from adaptive_router.config import RoutingConfig
from adaptive_router.errors import ConfigError, StackError
from adaptive_router.fit import Gpu
from adaptive_router.fit.memory import GiB
from adaptive_router.proxy.config import ProxyConfig, Settings, TierConfig
from adaptive_router.stack.config import EngineConfig, StackConfig
from adaptive_router.stack.engines import EnginePlan, plan_engines
from adaptive_router.stack.fit_check import check_stack_fits
from adaptive_router.stack.llama import GEMMA3_TEMPLATE, LlamaServerSpec, default_model
from tests.conftest import engine_missing

# vLLM `vllm serve` engine arguments,
# https://docs.vllm.ai/en/latest/configuration/engine_args/ (the model is positional).
VLLM_FLAGS = {
    "--host": str, "--port": int, "--served-model-name": str, "--max-model-len": int,
    "--max-num-seqs": int, "--gpu-memory-utilization": float, "--tensor-parallel-size": int,
    "--enable-prefix-caching": None, "--no-enable-prefix-caching": None,
    "--speculative-config": json.loads,  # https://docs.vllm.ai/en/latest/features/spec_decode/
}  # fmt: skip
VLLM_SPECULATIVE_KEYS = {"method", "model", "num_speculative_tokens"}
# SGLang server arguments,
# https://docs.sglang.io/advanced_features/server_arguments.html
SGLANG_FLAGS = {
    "--model-path": str, "--host": str, "--port": int, "--served-model-name": str,
    "--context-length": int, "--max-running-requests": int, "--mem-fraction-static": float,
    "--tp-size": int, "--disable-radix-cache": None, "--speculative-algorithm": str,
    "--speculative-draft-model-path": str, "--speculative-num-steps": int,
    "--speculative-eagle-topk": int, "--speculative-num-draft-tokens": int,
    "--enable-metrics": None,
}  # fmt: skip
SGLANG_ALGORITHMS = {"EAGLE", "EAGLE3", "NEXTN", "STANDALONE", "NGRAM"}


def plan(low: EngineConfig, high: EngineConfig | None = None, **proxy: TierConfig) -> EnginePlan:
    stack = StackConfig(engine_low=low, engine_high=high or EngineConfig(port=8082))
    return plan_engines(Settings(RoutingConfig(), ProxyConfig(**proxy)), stack)


def options(argv: tuple[str, ...], first: int) -> dict[str, str | None]:
    """``--flag value`` / ``--flag`` pairs of argv from index ``first``."""
    found: dict[str, str | None] = {}
    rest = list(argv[first:])
    while rest:
        flag = rest.pop(0)
        assert flag.startswith("--"), f"not a flag: {flag!r} in {argv}"
        found[flag] = rest.pop(0) if rest and not rest[0].startswith("--") else None
    return found


def check_documented(found: dict[str, str | None], documented: dict[str, object]) -> None:
    for flag, value in found.items():
        assert flag in documented, f"{flag} is not in the engine's documented flags"
        kind = documented[flag]
        if kind is None:
            assert value is None, f"{flag} takes no value"
        else:
            assert value is not None, f"{flag} needs a value"
            kind(value)  # type: ignore[operator]  # raises on the wrong form


FULL: dict[str, Any] = {
    "model": "google/gemma-4-E4B-it", "port": 8000, "replicas": 2, "gpus": ("0,1", "2,3"),
    "parallel": 8, "ctx_size": 8192, "gpu_memory": 0.85, "served_name": "gemma4-e4b",
    "speculative_method": "eagle3", "speculative_model": "org/drafter", "speculative_tokens": 3,
}  # fmt: skip


def test_vllm_command_uses_only_documented_flags_in_their_documented_form() -> None:
    engines = [e for e in plan(EngineConfig(engine="vllm", **FULL)).engines if e.tier == "tier_low"]
    assert [e.base_url for e in engines] == [f"http://127.0.0.1:{p}/v1" for p in (8000, 8001)]
    argv = engines[1].launch.argv
    assert argv[:3] == ("vllm", "serve", "google/gemma-4-E4B-it")
    found = options(argv, 3)
    check_documented(found, VLLM_FLAGS)
    assert found["--port"] == "8001"
    assert found["--tensor-parallel-size"] == "2"
    assert 0 < float(found["--gpu-memory-utilization"] or "") <= 1
    assert "--enable-prefix-caching" in found
    speculative = json.loads(found["--speculative-config"] or "")
    assert set(speculative) <= VLLM_SPECULATIVE_KEYS
    assert speculative == {"method": "eagle3", "model": "org/drafter", "num_speculative_tokens": 3}
    assert dict(engines[1].launch.env) == {"CUDA_VISIBLE_DEVICES": "2,3"}


def test_sglang_command_uses_only_documented_flags_in_their_documented_form() -> None:
    config = EngineConfig(
        engine="sglang", prefix_caching=False, **{**FULL, "speculative_method": "EAGLE3"}
    )
    argv = plan(config).engines[0].launch.argv
    assert argv[1:3] == ("-m", "sglang.launch_server")
    found = options(argv, 3)
    check_documented(found, SGLANG_FLAGS)
    assert found["--speculative-algorithm"] in SGLANG_ALGORITHMS
    assert found["--tp-size"] == "2"
    assert "--disable-radix-cache" in found
    assert int(found["--speculative-num-draft-tokens"] or "") == 4  # n drafted + the verified one


def test_minimal_vllm_definition_leaves_engine_defaults_alone() -> None:
    argv = plan(EngineConfig(engine="vllm", model="m", port=8000)).engines[0].launch.argv
    found = options(argv, 3)
    assert "--gpu-memory-utilization" not in found
    assert "--speculative-config" not in found
    assert "--tensor-parallel-size" not in found


@pytest.mark.skipif(bool(engine_missing()), reason="llama-server is not installed")
def test_llama_server_parses_every_flag_the_stack_gives_it(tmp_path: Path) -> None:
    config = EngineConfig(
        model=str(tmp_path / "missing.gguf"), port=18931, parallel=2, ctx_size=1024,
        threads=1, prefix_caching=False, speculative_model=str(tmp_path / "draft.gguf"),
        speculative_tokens=4, served_name="gemma4-big", args="--n-gpu-layers 99",
    )  # fmt: skip
    engine = plan(config).engines[0]
    argv = [*engine.launch.argv, "--jinja", "--chat-template-file", str(GEMMA3_TEMPLATE)]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    output = done.stdout + done.stderr
    assert done.returncode != 0
    assert "invalid argument" not in output
    assert "error while handling argument" not in output
    assert "failed to load model" in output, output[-2000:]


@pytest.mark.skipif(bool(engine_missing()), reason="llama-server is not installed")
def test_llama_server_parser_check_can_fail(tmp_path: Path) -> None:
    """The check above would see a flag llama-server does not know."""
    config = EngineConfig(model=str(tmp_path / "missing.gguf"), args="--no-such-flag")
    done = subprocess.run(plan(config).engines[0].launch.argv, capture_output=True, text=True,
                          timeout=60)  # fmt: skip
    assert "invalid argument: --no-such-flag" in done.stdout + done.stderr


def test_default_definition_is_two_llama_servers_with_the_jinja_template() -> None:
    engines = plan_engines(Settings(RoutingConfig(), ProxyConfig()), StackConfig()).engines
    assert [(e.tier, e.port) for e in engines] == [("tier_low", 8081), ("tier_high", 8082)]
    for engine in engines:
        argv = engine.launch.argv
        assert argv[argv.index("--chat-template-file") + 1] == str(GEMMA3_TEMPLATE)
        assert "--jinja" in argv
        assert "--no-jinja" not in argv
        assert engine.launch.env == ()


def test_a_tier_with_a_url_is_external_and_not_planned() -> None:
    external = TierConfig(url=("http://gpu:8000/v1",))
    engines = plan(EngineConfig(engine="external"), tier_low=external).engines
    assert [e.tier for e in engines] == ["tier_high"]


def test_external_without_a_url_is_a_clear_error() -> None:
    with pytest.raises(
        StackError, match=r"tier_low: engine is external but .* \[proxy.tier_low\] url"
    ):
        plan(EngineConfig(engine="external"))


def test_vllm_and_a_url_for_one_tier_is_a_clear_error() -> None:
    with pytest.raises(StackError, match="engine = 'external'"):
        plan(EngineConfig(engine="vllm", model="m"), tier_low=TierConfig(url=("http://x/v1",)))


def test_vllm_without_a_model_is_a_clear_error() -> None:
    with pytest.raises(StackError, match="engine vllm needs a model"):
        plan(EngineConfig(engine="vllm"))


def test_a_missing_engine_is_named_not_raised() -> None:
    config = EngineConfig(engine="vllm", model="m", command="/nonexistent/vllm serve")
    missing = plan(config).missing
    assert any("'/nonexistent/vllm' is not on PATH" in line for line in missing)


def test_gpus_must_match_the_replicas() -> None:
    with pytest.raises(ConfigError, match="names 3 GPU sets for 2 replica"):
        EngineConfig(replicas=2, gpus=("0", "1", "2"))
    one_for_all = EngineConfig(replicas=3, gpus=("0",))
    assert [one_for_all.gpus_of(i) for i in range(3)] == ["0", "0", "0"]


def test_fit_check_counts_a_vllm_engines_share_of_the_gpu() -> None:
    gpu = Gpu(16 * GiB, 16 * GiB, "injected")
    said: list[str] = []
    result = check_stack_fits([], False, said.append, gpu=gpu, shares=[("tier_low", 0.8)])
    assert result.needs == (("tier_low", round(0.8 * 16 * GiB)),)
    assert result.fits is True
    with pytest.raises(StackError, match="will not fit"):
        check_stack_fits([], True, said.append, gpu=gpu, shares=[("a", 0.6), ("b", 0.5)])


@pytest.mark.skipif(bool(engine_missing()), reason="the embedded model is not installed")
def test_fit_check_does_not_size_an_engine_with_its_experts_in_cpu_memory() -> None:
    spec = LlamaServerSpec(default_model(), 8082, extra_args=("--n-gpu-layers", "99", "--cpu-moe"))
    said: list[str] = []
    result = check_stack_fits([("tier_high", spec)], True, said.append, gpu=Gpu(GiB, 1, "tiny"))
    assert result.needs == ()
    assert said == ["fit check: tier_high keeps weights in CPU memory "
                    "(--n-gpu-layers 99 --cpu-moe): not sized"]  # fmt: skip


def test_stratum_down_can_recognise_every_engine_by_its_command_line() -> None:
    from adaptive_router.stack.process import Child
    from adaptive_router.stack.up import Engine, _program

    sglang = EngineConfig(engine="sglang", model="m", port=8000)
    vllm = EngineConfig(engine="vllm", model="m", port=8100)
    planned = [*plan(sglang, vllm).engines, *plan(EngineConfig()).engines[:1]]
    words = [_program(Engine(p.tier, Child(p.launch))) for p in planned]
    assert words == ["sglang.launch_server", "vllm", "llama-server"]


def test_llama_cpp_runs_a_llama_server_of_your_own_build() -> None:
    result = plan(EngineConfig(command="/opt/llama.cpp/build/bin/llama-server"))
    assert result.engines[0].launch.argv[0] == "/opt/llama.cpp/build/bin/llama-server"
    assert any(
        "'/opt/llama.cpp/build/bin/llama-server' is not on PATH" in m for m in result.missing
    )
