"""Talking to one engine, for the engine benchmarks (prefix sweep, speculative decoding).

Built on the package: requests are ``stratum bench``'s (``request_body``), streams are read by
its ``StreamRecorder`` (one SSE parser, one TTFT definition), the model is found with the
proxy's ``discover_model``, /metrics is read with prometheus_client's parser and ports are
checked with the proxy's ``check_port_free``.
"""

from __future__ import annotations

import contextlib
import math
import sys
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
import orjson
from prometheus_client.parser import text_string_to_metric_families

from adaptive_router.bench.client import Job, RequestOptions, StreamRecorder, request_body
from adaptive_router.bench.config import Target
from adaptive_router.bench.workloads import Prompt
from adaptive_router.errors import ConfigError
from adaptive_router.proxy.server import check_port_free
from adaptive_router.proxy.transport import discover_model


class EngineStream(StreamRecorder):
    """The package's stream recorder, also keeping the text and what the engine reports
    beyond OpenAI's fields: cached prompt tokens (vLLM, SGLang, llama.cpp) and llama.cpp's
    ``timings`` (prompt_ms, predicted_n/_ms, cache_n, draft_n, draft_n_accepted)."""

    def __init__(self, started: float) -> None:
        super().__init__(started)
        self.text = ""
        self.cached_tokens: int | None = None
        self.timings: dict[str, float] = {}
        self.e2e_s = math.nan

    def _take(self, payload: bytes, now: float) -> None:
        super()._take(payload, now)
        try:
            event = orjson.loads(payload)
        except orjson.JSONDecodeError:  # data: [DONE], or not JSON
            return
        if isinstance(event, dict):
            self._fold(event)

    def _fold(self, event: dict[str, Any]) -> None:
        self.text += "".join(c.get("text") or "" for c in event.get("choices") or [])
        details = (event.get("usage") or {}).get("prompt_tokens_details") or {}
        if details.get("cached_tokens") is not None:
            self.cached_tokens = int(details["cached_tokens"])
        timings = event.get("timings") or {}
        self.timings.update(timings)
        if "cache_n" in timings:  # llama.cpp
            self.cached_tokens = int(timings["cache_n"])


@dataclass(frozen=True)
class Engine:
    """One OpenAI-compatible server as the engine benchmarks talk to it; see :func:`connect`."""

    session: aiohttp.ClientSession
    url: str  # the /v1 base
    model: str

    async def complete(self, prompt: str, max_tokens: int) -> EngineStream:
        """One streamed /completions request (temperature 0, ``ignore_eos``), read whole.

        Raises RuntimeError for an error status, an error event or a stream without text.
        """
        target = Target("engine", self.url, self.model)
        job = Job(target, Prompt("bench", prompt, "bench"), 1.0, 0, False)
        body = request_body(
            job, RequestOptions(api="completions", max_tokens=max_tokens, ignore_eos=True)
        )
        began = time.perf_counter()
        stream = EngineStream(began)
        async with self.session.post(f"{self.url}/completions", json=body) as response:
            if response.status != 200:
                detail = (await response.text())[:500]
                raise RuntimeError(f"{self.url}/completions answered {response.status}: {detail}")
            async for chunk in response.content.iter_any():
                stream.feed(chunk, time.perf_counter())
        stream.e2e_s = time.perf_counter() - began
        if stream.error is not None:
            raise RuntimeError(f"stream error from {self.url}: {stream.error}")
        if stream.ttft_s is None:
            raise RuntimeError(f"stream from {self.url} ended without any text")
        return stream

    async def counters(self, key: Callable[[str], str | None]) -> dict[str, float]:
        """Sums of the /metrics samples that ``key`` names (sample name -> key or None); {}
        when the server has no /metrics page."""
        try:
            async with self.session.get(f"{self.url.removesuffix('/v1')}/metrics") as response:
                text = await response.text() if response.status == 200 else ""
        except aiohttp.ClientError:
            return {}
        found: dict[str, float] = {}
        with contextlib.suppress(ValueError):  # not a Prometheus page
            for family in text_string_to_metric_families(text):
                for sample in family.samples:
                    if (name := key(sample.name)) is not None:
                        found[name] = found.get(name, 0.0) + sample.value
        return found


@contextlib.asynccontextmanager
async def connect(url: str, model: str | None, timeout_s: float) -> AsyncIterator[Engine]:
    """The server at ``url`` (…/v1), sending ``model`` or else the first one it lists.

    Every request goes on a connection of its own: llama-server (cpp-httplib) may close a
    kept-alive connection after a streamed answer, failing the next request sent on it.
    """
    url = url.rstrip("/")
    connector = aiohttp.TCPConnector(force_close=True)
    timeout = aiohttp.ClientTimeout(total=timeout_s)
    async with aiohttp.ClientSession(timeout=timeout, connector=connector) as session:
        found = model or await discover_model(session, url, timeout_s)
        if not found:
            raise RuntimeError(f"{url}/models lists no model; pass --model")
        yield Engine(session, url, found)


def add_deltas(into: dict[str, float], before: dict[str, float], after: dict[str, float]) -> None:
    """Add what each counter read in both ``before`` and ``after`` grew by to ``into``."""
    for key in after.keys() & before.keys():
        into[key] = into.get(key, 0.0) + after[key] - before[key]


def check_port(port: int) -> None:
    """Exit with the package's message when 127.0.0.1:``port`` is taken."""
    try:
        check_port_free("127.0.0.1", port)
    except ConfigError as exc:
        sys.exit(str(exc))
