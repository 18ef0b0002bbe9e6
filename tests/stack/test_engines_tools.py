"""A chat request with ``tools`` through the stack is answered (it needs the engines' Jinja
chat template: without ``--jinja`` llama-server answers 500 "tools param requires --jinja")."""

from __future__ import annotations

import json
import urllib.request

import openai
import pytest

from tests.stack.conftest import RunningStack

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "The weather in a city.",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    },
}


@pytest.mark.parametrize("tier", ["low", "high"])
def test_a_request_with_tools_is_answered_by_each_tier(stack: RunningStack, tier: str) -> None:
    with openai.OpenAI(base_url=stack.url + "/v1", api_key="unused", max_retries=0) as client:
        raw = client.chat.completions.with_raw_response.create(
            model="gemma4-fast",
            messages=[{"role": "user", "content": "What is the weather in Paris?"}],
            tools=[WEATHER],  # type: ignore[list-item]
            max_tokens=16,
            extra_headers={"x-stratum-tier": tier},
        )
    assert raw.status_code == 200
    assert raw.headers["x-stratum-tier"] == f"tier_{tier}"
    assert "x-stratum-failover" not in raw.headers  # the forced tier answered itself
    answer = raw.parse().choices[0]
    assert answer.message.content or answer.message.tool_calls


def test_a_tool_call_and_its_result_in_the_history_are_answered(stack: RunningStack) -> None:
    history = [
        {"role": "user", "content": "What is the weather in Paris?"},
        {"role": "assistant", "content": None, "tool_calls": [{
            "id": "call_1", "type": "function",
            "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
        }]},
        {"role": "tool", "tool_call_id": "call_1", "content": "sunny, 21 C"},
    ]  # fmt: skip
    with openai.OpenAI(base_url=stack.url + "/v1", api_key="unused", max_retries=0) as client:
        answer = client.chat.completions.create(
            model="gemma4-fast",
            messages=history,
            tools=[WEATHER],
            max_tokens=16,  # type: ignore[arg-type, list-item]
        )
    assert answer.choices[0].finish_reason in ("stop", "length", "tool_calls")


def test_the_template_puts_system_and_tools_in_the_first_user_turn(llama_server: str) -> None:
    """Gemma 3 has no system role: the system prompt and the tools open the first user turn."""
    body = {
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "What is the weather in Paris?"},
        ],
        "tools": [WEATHER],
    }
    request = urllib.request.Request(
        llama_server.removesuffix("/v1") + "/apply-template",
        data=json.dumps(body).encode(),
        headers={"content-type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        prompt = json.loads(response.read())["prompt"]
    first_turn = prompt.split("<end_of_turn>")[0]
    assert first_turn.startswith("<start_of_turn>user\n")
    assert '"name": "get_weather"' in first_turn
    assert first_turn.index("Be brief.") < first_turn.index("What is the weather in Paris?")
    assert prompt.endswith("<start_of_turn>model\n")
    assert "system" not in prompt
