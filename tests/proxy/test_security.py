"""Security basics, in-process on fake upstreams (adaptive_router.bench.fake_engine, which can
stand where an attacker would want requests to go): tier forcing restricted to chosen keys,
a cap on the number of messages, keys kept out of logs, and an upstream URL that nothing from
the client can change."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import pytest

from adaptive_router.bench.fake_engine import FakeEngine
from adaptive_router.errors import ConfigError
from adaptive_router.proxy import load_settings
from adaptive_router.proxy.requests import MAX_MESSAGES
from tests.proxy.asgi import call, chat
from tests.proxy.conftest import AppFactory

CHAT = "/v1/chat/completions"


@pytest.fixture
async def elsewhere() -> AsyncIterator[FakeEngine]:
    upstream = await FakeEngine(name="elsewhere").start()
    yield upstream
    await upstream.stop()


async def test_only_chosen_keys_may_force_a_tier(
    make_app: AppFactory, low: FakeEngine, high: FakeEngine
) -> None:
    app = await make_app(force_tier_keys="sk-ops")
    anonymous = [
        await call(app, CHAT, chat("gemma4-smart")),
        await call(app, CHAT, chat("gemma4-lite")),
        await call(app, CHAT, chat(), headers={"x-stratum-tier": "high"}),
        await call(app, CHAT, chat("gemma4-smart"), headers={"authorization": "Bearer sk-guess"}),
    ]
    for reply in anonymous:
        assert reply.status == 401, reply.body
        error = reply.json()["error"]
        assert error["code"] == "tier_forcing_not_allowed"
        assert "sk-ops" not in error["message"]
        assert "sk-guess" not in error["message"]
    assert "gemma4-smart" in anonymous[0].json()["error"]["message"]
    assert "x-stratum-tier" in anonymous[2].json()["error"]["message"]
    assert low.seen == []
    assert high.seen == []
    adaptive = await call(app, CHAT, chat("auto"))
    assert adaptive.status == 200
    assert adaptive.headers["x-stratum-rule"] != "override"
    ops = {"authorization": "Bearer sk-ops"}
    forced = await call(app, CHAT, chat("gemma4-smart"), headers=ops)
    assert forced.status == 200
    assert forced.headers["x-stratum-tier"] == "tier_high"
    by_header = await call(app, CHAT, chat(), headers={**ops, "x-stratum-tier": "high"})
    assert by_header.headers["x-stratum-tier"] == "tier_high"


def test_force_tier_keys_must_be_client_keys_when_keys_are_required() -> None:
    urls = {"tier_low_url": "http://127.0.0.1:1/v1", "tier_high_url": "http://127.0.0.1:2/v1"}
    with pytest.raises(ConfigError, match="force_tier_keys"):
        load_settings(environ={}, overrides={**urls, "api_keys": "a", "force_tier_keys": "b"})
    settings = load_settings(
        environ={}, overrides={**urls, "api_keys": "a,b", "force_tier_keys": "b"}
    )
    assert settings.proxy.force_tier_keys == ("b",)


async def test_too_many_messages_is_a_clear_400(make_app: AppFactory, low: FakeEngine) -> None:
    app = await make_app()
    messages = [{"role": "user", "content": "x"}] * (MAX_MESSAGES + 1)
    reply = await call(app, CHAT, {"model": "auto", "messages": messages})
    assert reply.status == 400
    error = reply.json()["error"]
    assert error["param"] == "messages"
    assert f"{MAX_MESSAGES:,}" in error["message"]
    assert low.seen == []
    at_the_cap = [{"role": "user", "content": "x"}] * MAX_MESSAGES
    assert (await call(app, CHAT, {"model": "auto", "messages": at_the_cap})).status == 200


async def test_client_keys_are_never_logged(
    make_app: AppFactory, low: FakeEngine, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    app = await make_app(api_keys="sk-secret-one", force_tier_keys="sk-secret-one")
    await call(app, CHAT, chat(), headers={"authorization": "Bearer sk-wrong-guess"})
    await call(app, CHAT, chat(), headers={"authorization": "Bearer sk-secret-one"})
    low.behaviour = "status"  # an upstream failure logs a warning with the request's id
    await call(app, CHAT, chat("gemma4-lite"), headers={"authorization": "Bearer sk-secret-one"})
    assert caplog.records, "the failing upstream should have been logged"
    assert "sk-secret-one" not in caplog.text
    assert "sk-wrong-guess" not in caplog.text


async def test_nothing_from_the_client_changes_the_upstream_url(
    make_app: AppFactory, low: FakeEngine, high: FakeEngine, elsewhere: FakeEngine
) -> None:
    app = await make_app()
    there = elsewhere.url  # http://127.0.0.1:PORT/v1
    host = there.split("/")[2]
    attempts = [
        ("/v1/chat/completions", chat(), {"host": host}),
        ("/v1/chat/completions/", chat(), {"x-forwarded-host": host, "forwarded": f"host={host}"}),
        (CHAT, chat(api_base=there, base_url=there, url=there), {}),
        (CHAT, chat(), {"x-stratum-upstream": there, "x-stratum-tier-url": there}),
        ("/v1/completions", {"model": "auto", "prompt": "hi", "api_base": there}, {"host": host}),
    ]
    for path, body, headers in attempts:
        reply = await call(app, path, body, headers=headers)
        assert reply.status == 200, (path, headers, reply.body)
    assert (await call(app, f"//{host}/v1/chat/completions", chat())).status == 404
    assert (await call(app, "/v1/chat/completions/../../evil", chat())).status == 404
    assert elsewhere.seen == []
    seen = low.seen + high.seen
    assert len(seen) == len(attempts)
    assert {s.path for s in seen} == {"/v1/chat/completions", "/v1/completions"}
    own_hosts = {low.url.split("/")[2], high.url.split("/")[2]}
    assert {s.headers["host"] for s in seen} <= own_hosts


async def test_a_cookie_an_upstream_sets_never_reaches_another_client_request(
    make_app: AppFactory, low: FakeEngine
) -> None:
    # by name, not IP: aiohttp's default cookie jar ignores cookies from IP addresses
    app = await make_app(tier_low_url=low.url.replace("127.0.0.1", "localhost"))
    low.headers = {"set-cookie": "session=alice-only; Path=/"}
    streamed = chat("gemma4-lite", stream=True)
    first = await call(app, CHAT, streamed)
    assert first.status == 200
    low.headers = {}
    await call(app, CHAT, streamed)
    assert "cookie" not in low.seen[-1].headers  # the shared client keeps no cookie jar
