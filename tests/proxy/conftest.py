from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from adaptive_router import AdaptiveRouter, RoutingConfig
from adaptive_router.proxy import ProxyApp, create_app, load_settings
from tests.proxy.fake_upstream import FakeUpstream

AppFactory = Callable[..., Awaitable[ProxyApp]]


@pytest.fixture
async def low() -> AsyncIterator[FakeUpstream]:
    upstream = await FakeUpstream(name="low", model_id="small-model").start()
    yield upstream
    await upstream.stop()


@pytest.fixture
async def high() -> AsyncIterator[FakeUpstream]:
    upstream = await FakeUpstream(name="high", model_id="big-model").start()
    yield upstream
    await upstream.stop()


@pytest.fixture
async def make_app(low: FakeUpstream, high: FakeUpstream) -> AsyncIterator[AppFactory]:
    """Build a started proxy app on the two fake upstreams; settings override by flat name."""
    apps: list[ProxyApp] = []

    async def make(routing: RoutingConfig | None = None, **overrides: Any) -> ProxyApp:
        flat = {"tier_low_url": low.url, "tier_high_url": high.url, **overrides}
        settings = load_settings(environ={}, overrides=flat)
        router = AdaptiveRouter(routing or RoutingConfig(vram_poll_interval_ms=0))
        app = create_app(settings, router=router)
        await app.startup()
        apps.append(app)
        return app

    yield make
    for app in apps:
        await app.shutdown()
