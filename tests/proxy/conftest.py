from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from adaptive_router import AdaptiveRouter, RoutingConfig
from adaptive_router.bench.fake_engine import FakeEngine
from adaptive_router.proxy import ProxyApp, create_app, load_settings

AppFactory = Callable[..., Awaitable[ProxyApp]]


@pytest.fixture
async def low() -> AsyncIterator[FakeEngine]:
    upstream = await FakeEngine(name="low", model="small-model").start()
    yield upstream
    await upstream.stop()


@pytest.fixture
async def high() -> AsyncIterator[FakeEngine]:
    upstream = await FakeEngine(name="high", model="big-model").start()
    yield upstream
    await upstream.stop()


@pytest.fixture
async def make_app(low: FakeEngine, high: FakeEngine) -> AsyncIterator[AppFactory]:
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
