"""Helpers for the bench tests: the fake engine on loopback, SSE events, record builders."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from adaptive_router.bench.fake_engine import FakeEngine, sse_event
from adaptive_router.bench.records import RequestRecord


def chat_event(content: str | None = None, role: str | None = None, **extra: Any) -> bytes:
    """One chat.completion.chunk SSE event."""
    delta: dict[str, Any] = {}
    if role is not None:
        delta["role"] = role
    if content is not None:
        delta["content"] = content
    data = {"object": "chat.completion.chunk", "choices": [{"index": 0, "delta": delta}]}
    data.update(extra)
    return sse_event(data)


def usage_event(completion_tokens: int, prompt_tokens: int = 5) -> bytes:
    data = {
        "choices": [],
        "usage": {"completion_tokens": completion_tokens, "prompt_tokens": prompt_tokens},
    }
    return sse_event(data)


@pytest.fixture
async def server() -> AsyncIterator[FakeEngine]:
    """A fake engine whose streams the test scripts byte by byte (``server.script``)."""
    running = await FakeEngine(model="fake", error="no such model", script=[]).start()
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
