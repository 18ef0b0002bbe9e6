"""The proxy for real: started as a user would, over real sockets, in front of a real
llama-server on Gemma 3 270M, with the official openai SDK as the client."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass

import openai
import pytest

from adaptive_router.bench.fake_engine import free_port

HARD = "Prove the Riemann hypothesis step by step"
EASY = "What time is it in Tokyo?"


@dataclass
class Proxy:
    url: str
    process: subprocess.Popen[str]
    banner: str


def wait_healthy(url: str, process: subprocess.Popen[str], timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        assert process.poll() is None, "the proxy exited during start-up"
        try:
            with urllib.request.urlopen(url + "/health", timeout=1) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            time.sleep(0.1)
    raise AssertionError("proxy never became healthy")


@pytest.fixture(scope="module")
def proxy(llama_server: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proxy]:
    port = free_port()
    log = tmp_path_factory.mktemp("proxy") / "proxy.log"
    with log.open("w") as out:  # a file, not a pipe: a pipe nobody reads can fill and block
        process = subprocess.Popen(
            [
                sys.executable, "-m", "adaptive_router.middleware",
                "--tier-high-url", llama_server, "--tier-low-url", llama_server,
                "--port", str(port),
            ],
            stdout=out, stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, process)
        yield Proxy(url, process, "")
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            process.wait(15)


@pytest.fixture
def client(proxy: Proxy) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=proxy.url + "/v1", api_key="unused", max_retries=0) as client:
        yield client


def test_sdk_chat_unstreamed_routes_easy_prompt_low(client: openai.OpenAI) -> None:
    raw = client.chat.completions.with_raw_response.create(
        model="gemma4-fast", messages=[{"role": "user", "content": EASY}], max_tokens=8
    )
    assert raw.headers["x-stratum-tier"] == "tier_low"
    completion = raw.parse()
    assert completion.choices[0].message.content  # a real model's words, not an empty string
    assert completion.usage is not None
    assert completion.usage.completion_tokens > 0


def test_sdk_chat_stream_routes_hard_prompt_high_and_streams(client: openai.OpenAI) -> None:
    raw = client.chat.completions.with_raw_response.create(
        model="gemma4-fast",
        messages=[{"role": "user", "content": HARD}],
        max_tokens=24,
        stream=True,
    )
    assert raw.headers["x-stratum-tier"] == "tier_high"
    arrivals = []
    text = ""
    for chunk in raw.parse():
        if chunk.choices and chunk.choices[0].delta.content:
            arrivals.append(time.perf_counter())
            text += chunk.choices[0].delta.content
    assert len(arrivals) >= 5
    assert text
    assert arrivals[-1] - arrivals[0] > 0.05  # tokens arrived over time, not in one burst


def test_sdk_text_completions(client: openai.OpenAI) -> None:
    done = client.completions.create(model="gemma4-lite", prompt="The capital of France is",
                                     max_tokens=6)  # fmt: skip
    assert done.choices[0].text
    pieces = [
        c.choices[0].text
        for c in client.completions.create(
            model="gemma4-smart", prompt="Once upon a time", max_tokens=8, stream=True
        )
        if c.choices
    ]
    assert "".join(pieces)


def test_sdk_models_and_errors(client: openai.OpenAI) -> None:
    assert [m.id for m in client.models.list()] == [
        "gemma4-fast", "auto", "gemma4-smart", "gemma4-lite",
    ]  # fmt: skip
    with pytest.raises(openai.NotFoundError, match="gemma4-smart"):
        client.chat.completions.create(model="nope", messages=[{"role": "user", "content": "x"}])


def test_malformed_body_is_400_json_over_the_wire(proxy: Proxy) -> None:
    request = urllib.request.Request(
        proxy.url + "/v1/chat/completions", data=b"{oops", method="POST",
        headers={"content-type": "application/json"},
    )  # fmt: skip
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(request, timeout=5)
    with caught.value as error:  # closes the response (and its socket)
        assert error.code == 400
        assert "not valid JSON" in json.loads(error.read())["error"]["message"]


def test_metrics_show_ttft_after_streaming(client: openai.OpenAI, proxy: Proxy) -> None:
    stream = client.chat.completions.create(
        model="gemma4-smart", messages=[{"role": "user", "content": "Count to five"}],
        max_tokens=8, stream=True,
    )  # fmt: skip
    for _ in stream:
        pass
    with urllib.request.urlopen(proxy.url + "/metrics", timeout=5) as response:
        text = response.read().decode()
    assert 'stratum_ttft_seconds_count{tier="tier_high"}' in text
    assert 'stratum_ttft_ema_seconds{tier="tier_high"}' in text


def test_startup_banner_and_clean_sigterm(llama_server: str) -> None:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "adaptive_router.middleware", "--tier-high-url", llama_server,
         "--tier-low-url", llama_server, "--port", str(port)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    wait_healthy(f"http://127.0.0.1:{port}", process)
    process.send_signal(signal.SIGTERM)
    output, _ = process.communicate(timeout=15)
    assert process.returncode == 0, output
    assert f"Stratum listening on http://127.0.0.1:{port}/v1" in output
    assert f"tier_high -> {llama_server}" in output


def test_port_in_use_is_a_clear_error(llama_server: str, proxy: Proxy) -> None:
    port = proxy.url.rsplit(":", 1)[1]
    done = subprocess.run(
        [sys.executable, "-m", "adaptive_router.middleware", "--tier-high-url", llama_server,
         "--tier-low-url", llama_server, "--port", port],
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert done.returncode == 2
    assert f"port {port} on 127.0.0.1 is already in use" in done.stderr
    assert "Traceback" not in done.stderr


def test_missing_tier_url_is_a_clear_error() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "adaptive_router.middleware", "--tier-low-url", "http://x:1/v1"],
        capture_output=True, text=True, timeout=30, env={"PATH": ""},
    )  # fmt: skip
    assert done.returncode == 2
    assert "tier_high has no upstream: pass --tier-high-url URL" in done.stderr


def test_engine_applies_the_chat_template_to_the_users_words(llama_server: str) -> None:
    request = urllib.request.Request(
        llama_server.removesuffix("/v1") + "/apply-template",
        data=json.dumps({"messages": [{"role": "user", "content": "What is 2+2?"}]}).encode(),
        headers={"content-type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        prompt = json.loads(response.read())["prompt"]
    assert "What is 2+2?" in prompt
    assert "<start_of_turn>user" in prompt
