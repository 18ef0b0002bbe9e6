"""Helpers for the bench tests: a scripted SSE server on loopback, and record builders."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import web

from adaptive_router.bench.records import RequestRecord
from tests.loopback import LoopbackServer


def chat_event(content: str | None = None, role: str | None = None, **extra: Any) -> bytes:
    """One chat.completion.chunk SSE event."""
    delta: dict[str, Any] = {}
    if role is not None:
        delta["role"] = role
    if content is not None:
        delta["content"] = content
    data = {"object": "chat.completion.chunk", "choices": [{"index": 0, "delta": delta}]}
    data.update(extra)
    return b"data: " + json.dumps(data).encode() + b"\n\n"


def usage_event(completion_tokens: int, prompt_tokens: int = 5) -> bytes:
    data = {
        "choices": [],
        "usage": {"completion_tokens": completion_tokens, "prompt_tokens": prompt_tokens},
    }
    return b"data: " + json.dumps(data).encode() + b"\n\n"


DONE = b"data: [DONE]\n\n"


@dataclass
class ScriptedServer(LoopbackServer):
    """Answers every POST with ``status`` and, for 200, ``chunks`` (delay s, bytes) in turn."""

    chunks: list[tuple[float, bytes]] = field(default_factory=list)
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "text/event-stream"
    seen: list[dict[str, Any]] = field(default_factory=list)
    in_flight: int = 0
    peak_in_flight: int = 0

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/v1/chat/completions", self._answer)
        app.router.add_post("/v1/completions", self._answer)
        app.router.add_get("/v1/models", self._models)

    async def _models(self, request: web.Request) -> web.Response:
        return web.json_response({"data": [{"id": "fake"}]})

    async def _answer(self, request: web.Request) -> web.StreamResponse:
        self.seen.append(await request.json())
        if self.status != 200:
            body = {"error": {"message": "no such model", "type": "invalid_request_error"}}
            return web.json_response(body, status=self.status)
        self.in_flight += 1
        self.peak_in_flight = max(self.peak_in_flight, self.in_flight)
        try:
            response = web.StreamResponse(
                headers={"content-type": self.content_type, **self.headers}
            )
            await response.prepare(request)
            for delay, chunk in self.chunks:
                await asyncio.sleep(delay)
                await response.write(chunk)
            await response.write_eof()
            return response
        finally:
            self.in_flight -= 1


@pytest.fixture
async def server() -> AsyncIterator[ScriptedServer]:
    running = await ScriptedServer().start()
    yield running
    await running.stop()


def record(
    ttft: float | None = 0.1,
    e2e: float | None = 1.0,
    tokens: int = 10,
    tier: str | None = None,
    error: str | None = None,
    warmup: bool = False,
    itl: tuple[float, ...] = (),
    target: str = "t",
) -> RequestRecord:
    """A RequestRecord with only what a test cares about set."""
    return RequestRecord(
        target=target, level=1.0, index=0, prompt_id="p", prompt_kind="easy", warmup=warmup,
        start_s=0.0, ttft_s=ttft, e2e_s=e2e, itl_s=itl, output_tokens=tokens, tier=tier,
        error=error,
    )  # fmt: skip


# The real local stack (`stratum up` on free ports), shared with the stack tests' helpers.
from tests.stack.conftest import stack  # noqa: E402, F401
