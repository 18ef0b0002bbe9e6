"""max_tokens: what a client asked for, and the tier's default and cap on the body sent."""

import orjson
import pytest

from adaptive_router.errors import BadRequest
from adaptive_router.proxy.config import ProxyConfig, TierConfig
from adaptive_router.proxy.limits import max_tokens_for, with_max_tokens
from adaptive_router.proxy.requests import parse_chat, parse_completion

TIER = TierConfig(max_tokens=512, max_tokens_cap=1000)


def chat(**fields: object) -> bytes:
    return orjson.dumps({"messages": [{"role": "user", "content": "hi"}], **fields})


@pytest.mark.parametrize(
    ("fields", "asked"),
    [
        ({}, None),
        ({"max_tokens": None}, None),
        ({"max_tokens": 0}, 0),
        ({"max_tokens": 300}, 300),
        ({"max_completion_tokens": 300}, 300),
        # the newer name wins, as llama-server and vLLM read them
        ({"max_tokens": 50, "max_completion_tokens": 300}, 300),
        ({"max_tokens": 300, "max_completion_tokens": 50}, 50),
        ({"max_tokens": 300, "max_completion_tokens": None}, 300),
    ],
)
def test_what_the_client_asked_for(fields: dict[str, object], asked: int | None) -> None:
    assert parse_chat(chat(**fields)).max_tokens == asked


def test_text_completions_read_max_tokens_too() -> None:
    body = orjson.dumps({"prompt": "Once", "max_tokens": 7})
    assert parse_completion(body).max_tokens == 7


@pytest.mark.parametrize("value", [-1, 1.5, "100", True, [1]])
@pytest.mark.parametrize("name", ["max_tokens", "max_completion_tokens"])
def test_a_bad_value_is_a_400_naming_the_field(name: str, value: object) -> None:
    with pytest.raises(BadRequest) as caught:
        parse_chat(chat(**{name: value}))
    assert caught.value.param == name
    assert caught.value.message == f"'{name}' must be a whole number >= 0"


def test_default_when_none_asked_and_cap_when_more() -> None:
    assert max_tokens_for(None, TIER) == 512
    assert max_tokens_for(999, TIER) == 999
    assert max_tokens_for(5000, TIER) == 1000
    assert max_tokens_for(5000, TierConfig(max_tokens=512, max_tokens_cap=0)) == 5000  # no cap
    assert max_tokens_for(None, TierConfig(max_tokens=0)) == 0  # send none


def test_the_body_gets_the_limit() -> None:
    assert with_max_tokens({}, None, 512) == {"max_tokens": 512}
    assert with_max_tokens({}, None, 0) == {}  # a default of 0: send none
    assert with_max_tokens({"max_tokens": 5000}, 5000, 1000) == {"max_tokens": 1000}
    both = {"max_tokens": 5000, "max_completion_tokens": 2000}
    assert with_max_tokens(both, 2000, 1000) == {"max_tokens": 1000, "max_completion_tokens": 1000}
    small = {"max_tokens": 5000, "max_completion_tokens": 20}
    assert with_max_tokens(small, 20, 20) == {"max_tokens": 20, "max_completion_tokens": 20}
    assert with_max_tokens({"max_tokens": 10}, 10, 10) == {"max_tokens": 10}


def test_each_tier_has_its_own_defaults() -> None:
    config = ProxyConfig()
    assert (config.tier_low.max_tokens, config.tier_high.max_tokens) == (512, 2048)
    assert (config.tier_low.max_tokens_cap, config.tier_high.max_tokens_cap) == (0, 0)
