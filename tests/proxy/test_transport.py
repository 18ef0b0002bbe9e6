"""The upstream transport's one retry, against a server that drops kept-alive connections.

A scripted aiohttp server stands in for llama-server, which closes the connection after
every streamed answer while its headers promise keep-alive: a pooled connection can then be
dead by the time it is reused, and under load the client may not have seen the close yet.
The server here answers the first request of each connection and drops any later one, so
every pooled connection is dead on reuse, deterministically.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass, field

import aiohttp
from aiohttp import web

from adaptive_router.bench.fake_engine import LoopbackServer
from adaptive_router.proxy.config import TierConfig
from adaptive_router.proxy.transport import new_client, open_upstream


@dataclass
class OneRequestPerConnection(LoopbackServer):
    served: Counter[int] = field(default_factory=Counter)
    dropped: int = 0

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/v1/completions", self._answer)

    async def _answer(self, request: web.Request) -> web.StreamResponse:
        await request.read()
        transport = request.transport
        assert transport is not None
        self.served[id(transport)] += 1
        if self.served[id(transport)] > 1:  # a reused connection: drop it unanswered
            self.dropped += 1
            transport.abort()
        return web.json_response({"choices": [{"text": "ok"}]})


async def test_a_dead_pooled_connection_is_retried_on_a_fresh_one() -> None:
    server = await OneRequestPerConnection().start()
    client = new_client()
    timeout = aiohttp.ClientTimeout(total=10)
    tier = TierConfig()

    async def ask() -> int:
        opened = await open_upstream(
            client, server.url + "/completions", b"{}", {}, tier, timeout, stream=False
        )
        opened.response.release()
        return opened.response.status

    try:
        assert await asyncio.gather(ask(), ask(), ask()) == [200, 200, 200]  # 3 pooled
        assert [await ask() for _ in range(3)] == [200, 200, 200]
        assert server.dropped >= 3  # every later request first met a dead connection
    finally:
        await client.close()
        await server.stop()
