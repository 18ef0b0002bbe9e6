"""An aiohttp app on a free loopback port, the base of the tests' scripted upstreams."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Self

from aiohttp import web


@dataclass
class LoopbackServer:
    """Subclasses add their routes in ``routes``; ``url`` is the /v1 base once started."""

    url: str = ""
    _runner: web.AppRunner | None = None

    def routes(self, app: web.Application) -> None:
        raise NotImplementedError

    async def start(self) -> Self:
        app = web.Application()
        self.routes(app)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}/v1"
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
