"""What an engine can take (context window, vision, tools): parsing /props and /v1/models,
and the monitor reading them rarely."""

import dataclasses
import json

import pytest

from adaptive_router.signals.engine import FACTS_EVERY_S, EngineMonitor, UpstreamLoad, summarise
from adaptive_router.signals.facts import (
    TOOLS_PROBE,
    EngineFacts,
    jinja_from_probe,
    parse_models,
    parse_props,
)
from tests.conftest import Clock
from tests.signals.test_engine import BASE, ROOT, FakeNetwork, Route, llama_routes, sample, upstream


def test_recorded_llamacpp_props() -> None:
    # llama-server -c 2048 -np 2: n_ctx in /props is per slot
    facts = parse_props(json.loads(sample("llamacpp_props.json")))
    assert facts == EngineFacts(context_tokens=1024, vision=False, tools=None)  # not from caps


@pytest.mark.parametrize(
    "props",
    [None, [], "x", {"default_generation_settings": {"n_ctx": "4096"}}, {"modalities": []},
     {"default_generation_settings": {"n_ctx": 0}}, {"modalities": {"vision": "yes"}}],
)  # fmt: skip
def test_odd_props_are_unknown(props: object) -> None:
    assert parse_props(props) == EngineFacts()


def test_models_max_model_len() -> None:
    # vLLM's /v1/models (ModelCard.max_model_len); SGLang lists the same field
    vllm = {"object": "list", "data": [{"id": "google/gemma", "max_model_len": 8192}]}
    assert parse_models(vllm) == 8192
    two = {"data": [{"id": "a", "max_model_len": 8192}, {"id": "b", "max_model_len": 4096}]}
    assert parse_models(two) == 4096  # the smallest: a request must fit whichever answers
    assert parse_models({"data": [{"id": "llama", "meta": {"n_ctx_train": 32768}}]}) is None
    assert parse_models({"data": "x"}) is None
    assert parse_models(None) is None


@pytest.mark.parametrize(
    ("status", "body", "tools"),
    [
        (200, b'{"prompt": "<start_of_turn>user..."}', True),  # llama-server --jinja
        (500, b'{"error":{"code":500,"message":"tools param requires --jinja flag"}}', False),
        (404, b"Not Found", None),  # a build without /apply-template
        (503, b'{"error":{"message":"Loading model"}}', None),
    ],
)
def test_jinja_probe(status: int, body: bytes, tools: bool | None) -> None:
    # the answers of llama-server (this build) with and without --jinja, checked by hand
    assert jinja_from_probe(status, body) is tools


def test_tools_come_from_the_jinja_probe(clock: Clock) -> None:
    routes = props_routes(4096)
    routes[f"{ROOT}/apply-template"] = (
        500,
        '{"error":{"message":"tools param requires --jinja flag"}}',
    )
    network = FakeNetwork(routes)
    with EngineMonitor([BASE], 0, fetch=network, clock=clock) as monitor:
        assert monitor.poll()[BASE].facts.tools is False
    probe = network.urls.index(f"{ROOT}/apply-template")
    assert network.bodies[probe] == TOOLS_PROBE  # a POST that renders a template, no more
    assert json.loads(TOOLS_PROBE)["tools"]


def props_routes(n_ctx: int) -> dict[str, Route]:
    props = {"default_generation_settings": {"n_ctx": n_ctx}, "modalities": {"vision": True}}
    return {**llama_routes(), f"{ROOT}/props": (200, json.dumps(props))}


def test_llamacpp_facts_are_read_once_a_minute(clock: Clock) -> None:
    network = FakeNetwork(props_routes(4096))
    with EngineMonitor([BASE], 0, fetch=network, clock=clock) as monitor:
        assert monitor.poll()[BASE].facts == EngineFacts(4096, True, None)
        network.routes = props_routes(8192)  # the engine restarts with another context
        clock.advance(FACTS_EVERY_S - 1)
        assert monitor.poll()[BASE].facts.context_tokens == 4096  # not asked again yet
        clock.advance(2)
        assert monitor.poll()[BASE].facts.context_tokens == 8192
    assert network.urls.count(f"{ROOT}/props") == 2
    assert f"{BASE}/models" not in network.urls  # llama.cpp's own /props is enough


def test_facts_of_an_engine_that_said_nothing_are_asked_again_soon(clock: Clock) -> None:
    network = FakeNetwork({f"{ROOT}/health": (200, "{}")})
    with EngineMonitor([BASE], 0, fetch=network, clock=clock) as monitor:
        assert monitor.poll()[BASE].facts == EngineFacts()
        clock.advance(1)
        monitor.poll()
        assert network.urls.count(f"{BASE}/models") == 1
        network.routes[f"{BASE}/models"] = (200, '{"data": [{"id": "m", "max_model_len": 999}]}')
        clock.advance(5)
        assert monitor.poll()[BASE].facts.context_tokens == 999


def test_unknown_engine_tries_props_then_models(clock: Clock) -> None:
    network = FakeNetwork(
        {
            f"{ROOT}/health": (200, "{}"),
            f"{BASE}/models": (200, '{"data": [{"id": "m", "max_model_len": 1024}]}'),
        }
    )
    with EngineMonitor([BASE], 0, fetch=network, clock=clock) as monitor:
        assert monitor.poll()[BASE].facts.context_tokens == 1024
    assert network.urls[-2:] == [f"{ROOT}/props", f"{BASE}/models"]


def test_an_engine_that_is_down_keeps_its_facts(clock: Clock) -> None:
    network = FakeNetwork(props_routes(4096))
    with EngineMonitor([BASE], 0, fetch=network, clock=clock) as monitor:
        monitor.poll()
        network.routes = {f"{ROOT}/health": ConnectionRefusedError("refused")}
        down = monitor.poll()[BASE]
    assert down.healthy is False
    assert down.facts.context_tokens == 4096


def with_facts(name: str, facts: EngineFacts) -> UpstreamLoad:
    return dataclasses.replace(upstream(name, True), facts=facts)


def test_summarise_keeps_what_every_replica_can_take() -> None:
    tier = summarise(
        [
            with_facts("a", EngineFacts(8192, True, True)),
            with_facts("b", EngineFacts(4096, True, False)),
        ]
    )
    assert tier.facts == EngineFacts(context_tokens=4096, vision=True, tools=False)
    unknown = summarise(
        [with_facts("a", EngineFacts(8192, True, None)), with_facts("b", EngineFacts())]
    )
    assert unknown.facts == EngineFacts()  # one replica unknown: the tier is unknown
    assert summarise([]).facts == EngineFacts()
