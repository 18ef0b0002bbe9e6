"""Forwarding one routed request: pick an upstream, fail over, relay the answer.

Everything that can go wrong before the client sees a byte (connection refused, a 5xx, no
first byte in time, every upstream of a tier out of rotation) moves the request to the other
tier once. After the first byte an upstream failure ends the stream with an SSE error event,
never a hang. A client that disconnects cancels the upstream request.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import orjson

from adaptive_router.errors import UpstreamUnavailable
from adaptive_router.proxy.config import ProxyConfig, TierConfig
from adaptive_router.proxy.metrics import ProxyMetrics
from adaptive_router.proxy.requests import CompletionRequest
from adaptive_router.proxy.sse import FirstContentDetector, error_event
from adaptive_router.proxy.transport import (
    HOP_BY_HOP,
    Client,
    Opened,
    UpstreamFailure,
    discover_model,
    open_upstream,
)
from adaptive_router.proxy.upstream import TierPool, Upstream
from adaptive_router.router import AdaptiveRouter, Decision
from adaptive_router.tiers import Tier, other_tier

logger = logging.getLogger(__name__)

Message = MutableMapping[str, Any]
_MODEL_RECHECK_S = 30.0


@dataclass(slots=True)
class Exchange:
    """One HTTP request/response between the proxy and its client."""

    scope: MutableMapping[str, Any]
    receive: Callable[[], Awaitable[Message]]
    send: Callable[[Message], Awaitable[None]]
    headers: dict[str, str]
    request_id: str
    started: float  # time.perf_counter() when the request arrived
    response_started: bool = field(default=False)
    status: int = 0  # what the client was answered
    tier: Tier | None = None  # the tier that answered
    ttft_ms: float | None = None
    failover: bool = False

    async def start(self, status: int, headers: list[tuple[bytes, bytes]]) -> None:
        headers.append((b"x-request-id", self.request_id.encode()))
        self.response_started = True
        self.status = status
        await self.send({"type": "http.response.start", "status": status, "headers": headers})

    async def body(self, chunk: bytes, more: bool = True) -> None:
        await self.send({"type": "http.response.body", "body": chunk, "more_body": more})

    async def send_json(self, status: int, payload: dict[str, Any]) -> None:
        """A complete JSON response (ignored if a response has already begun)."""
        if self.response_started:
            return
        body = orjson.dumps(payload)
        await self.start(
            status,
            [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))],
        )
        await self.body(body, more=False)


class Forwarder:
    """Sends routed requests to the tiers' upstreams and relays their answers."""

    def __init__(
        self,
        config: ProxyConfig,
        pools: dict[Tier, TierPool],
        router: AdaptiveRouter,
        metrics: ProxyMetrics,
        client: Callable[[], Client],
    ) -> None:
        self.config = config
        self.pools = pools
        self.router = router
        self.metrics = metrics
        self.client = client
        self._timeouts = {
            tier: aiohttp.ClientTimeout(
                total=config.tier(tier).total_timeout_s,
                sock_connect=config.tier(tier).connect_timeout_s,
            )
            for tier in pools
        }

    async def forward(
        self, ex: Exchange, path: str, request: CompletionRequest, decision: Decision
    ) -> None:
        """Answer ``request``; a client that disconnects cancels the work upstream."""
        current = asyncio.current_task()
        assert current is not None
        left = False

        async def watch() -> None:
            nonlocal left
            await _disconnected(ex.receive)
            left = True
            current.cancel()

        watcher = asyncio.create_task(watch())
        try:
            await self._forward(ex, path, request, decision)
        except asyncio.CancelledError:
            if not left:
                raise  # cancelled from elsewhere (shutdown): not ours to swallow
            current.uncancel()
            logger.info("request %s: client disconnected, upstream cancelled", ex.request_id)
        finally:
            watcher.cancel()

    async def _forward(
        self, ex: Exchange, path: str, request: CompletionRequest, decision: Decision
    ) -> None:
        order = [decision.tier]
        if self.config.failover:
            order.append(other_tier(decision.tier))
        failures: list[str] = []
        for attempt, tier in enumerate(order):
            upstream = self.pools[tier].pick()
            if upstream is None:
                self.metrics.upstream_errors.labels(tier, "circuit_open").inc()
                failures.append(f"{tier}: no upstream in rotation")
                continue
            try:
                await self._try(ex, path, request, decision, tier, upstream, order[0], attempt)
            except UpstreamFailure as failure:
                self.metrics.upstream_errors.labels(tier, failure.kind).inc()
                failures.append(f"{tier} at {upstream.base_url}: {failure}")
                logger.warning("request %s: %s failed: %s", ex.request_id, tier, failure)
                continue
            return
        raise UpstreamUnavailable(
            "no tier could answer: " + "; ".join(failures), code="upstreams_unavailable"
        )

    async def _try(
        self,
        ex: Exchange,
        path: str,
        request: CompletionRequest,
        decision: Decision,
        tier: Tier,
        upstream: Upstream,
        first_tier: Tier,
        attempt: int,
    ) -> None:
        config = self.config.tier(tier)
        body = orjson.dumps(await self._payload(request, upstream, config))
        upstream.begin(time.monotonic())
        in_flight = self.metrics.in_flight.labels(tier)
        in_flight.inc()
        outcome: str | None = None  # None: no verdict on the upstream (the client left)
        try:
            opened = await open_upstream(
                self.client(),
                upstream.base_url + path.removeprefix("/v1"),
                body,
                self._headers(ex, config),
                config,
                self._timeouts[tier],
                request.stream,
            )
            ex.tier, ex.failover = tier, bool(attempt)
            if attempt:
                self.metrics.failovers.labels(first_tier, tier).inc()
            headers = _route_headers(decision, tier, first_tier if attempt else None)
            if request.stream and opened.response.status == 200:
                outcome = await self._relay(ex, opened, tier, headers, config)
            else:
                outcome = await self._reply(ex, opened, tier, headers, request.stream)
        except UpstreamFailure as failure:
            outcome = str(failure)
            raise
        finally:
            in_flight.dec()
            _settle(upstream, outcome)

    async def _payload(
        self, request: CompletionRequest, upstream: Upstream, config: TierConfig
    ) -> dict[str, Any]:
        now = time.monotonic()
        if not config.model and upstream.model is None and now >= upstream.model_checked_at:
            upstream.model_checked_at = now + _MODEL_RECHECK_S
            upstream.model = await discover_model(
                self.client().pooled, upstream.base_url, min(config.connect_timeout_s, 2.0)
            )
        payload = dict(request.payload)
        model = config.model or upstream.model
        if model:
            payload["model"] = model
        else:  # unknown upstream name: let the server use its default model
            payload.pop("model", None)
        return payload

    def _headers(self, ex: Exchange, config: TierConfig) -> dict[str, str]:
        drop = HOP_BY_HOP | {self.config.tier_header}
        headers = {
            k: v for k, v in ex.headers.items() if k not in drop and not k.startswith("x-stratum-")
        }
        headers["content-type"] = "application/json"
        headers["x-request-id"] = ex.request_id
        if config.api_key:
            headers["authorization"] = f"Bearer {config.api_key}"
        return headers

    async def _reply(
        self,
        ex: Exchange,
        opened: Opened,
        tier: Tier,
        headers: list[tuple[bytes, bytes]],
        streamed: bool,
    ) -> str:
        """Relay a complete (unstreamed, or error) answer."""
        response = opened.response
        try:
            body = opened.first + (await response.read() if streamed else b"")
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            raise UpstreamFailure("read", f"{type(exc).__name__}: {exc}") from None
        finally:
            response.release()
        content_type = response.headers.get("content-type", "application/json")
        headers += [
            (b"content-type", content_type.encode("latin-1")),
            (b"content-length", b"%d" % len(body)),
        ]
        await ex.start(response.status, headers)
        await ex.body(body, more=False)
        total_s = time.perf_counter() - ex.started
        self.metrics.requests.labels(tier, str(response.status)).inc()
        if response.status < 400:
            self.router.observe(tier, None, total_s * 1000.0)
            self.metrics.duration.labels(tier).observe(total_s)
        return "ok"

    async def _relay(
        self,
        ex: Exchange,
        opened: Opened,
        tier: Tier,
        headers: list[tuple[bytes, bytes]],
        config: TierConfig,
    ) -> str:
        """Relay a stream chunk by chunk as it arrives; returns "ok" or why it broke."""
        response = opened.response
        content_type = response.headers.get("content-type", "text/event-stream")
        headers += [
            (b"content-type", content_type.encode("latin-1")),
            (b"cache-control", b"no-cache"),
            (b"x-accel-buffering", b"no"),
        ]
        detector = FirstContentDetector()
        chunk = last = opened.first
        outcome = "ok"
        idle_s = config.idle_timeout_s
        loop = asyncio.get_running_loop()
        try:
            await ex.start(200, headers)
            # The idle deadline moves only when less than idle_s is left, not on every chunk
            # (a timer per chunk costs more than the chunk): a silent stream ends after
            # between idle_s and 2 * idle_s.
            deadline = loop.time() + 2 * idle_s
            send, read, found = ex.send, response.content.readany, False
            async with asyncio.timeout_at(deadline) as idle:
                while chunk:  # the hot loop: one pass per upstream chunk, kept lean
                    if not found and detector.feed(chunk):
                        found = True
                        ex.ttft_ms = self._first_token(tier, ex.started)
                    await send({"type": "http.response.body", "body": chunk, "more_body": True})
                    last = chunk
                    if deadline - loop.time() < idle_s:
                        deadline = loop.time() + 2 * idle_s
                        idle.reschedule(deadline)
                    chunk = await read()
        except TimeoutError:
            outcome = f"stream stalled: no chunk for {idle_s:g} s"
        except (aiohttp.ClientError, OSError) as exc:
            outcome = f"stream broke: {type(exc).__name__}: {exc}"
        finally:
            if chunk == b"" and outcome == "ok":
                response.release()  # read to the end: the connection goes back to the pool
            else:
                response.close()  # broken, stalled or abandoned: drop the connection
        if outcome != "ok":
            self.metrics.upstream_errors.labels(tier, "stream").inc()
            separator = b"" if last.endswith(b"\n\n") else b"\n\n"
            await ex.body(separator + error_event(f"{tier} upstream failed mid-answer: {outcome}"))
        await ex.body(b"", more=False)
        total_s = time.perf_counter() - ex.started
        self.metrics.requests.labels(tier, "200").inc()
        self.metrics.duration.labels(tier).observe(total_s)
        self.router.observe(tier, None, total_s * 1000.0)
        return outcome

    def _first_token(self, tier: Tier, started: float) -> float:
        ttft_s = time.perf_counter() - started
        self.router.observe(tier, ttft_s * 1000.0)
        self.metrics.ttft.labels(tier).observe(ttft_s)
        return ttft_s * 1000.0


def _route_headers(
    decision: Decision, tier: Tier, failed_over_from: Tier | None
) -> list[tuple[bytes, bytes]]:
    headers = [
        (b"x-stratum-tier", tier.encode()),
        (b"x-stratum-rule", decision.rule.encode()),
        (b"x-stratum-score", b"%.3f" % decision.score),
    ]
    if failed_over_from is not None:
        headers.append((b"x-stratum-failover", f"{failed_over_from}->{tier}".encode()))
    return headers


def _settle(upstream: Upstream, outcome: str | None) -> None:
    if outcome is None:
        upstream.released()
    elif outcome == "ok":
        upstream.succeeded()
    else:
        upstream.failed(outcome, time.monotonic())


async def _disconnected(receive: Callable[[], Awaitable[Message]]) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass
