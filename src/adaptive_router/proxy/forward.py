"""Forwarding one routed request: pick an upstream, fail over, hand the answer to the relay.

Everything that can go wrong before the client sees a byte (connection refused, a 5xx, no
first byte in time, every upstream of a tier out of rotation) moves the request to the other
tier once. After the first byte an upstream failure ends the stream with an SSE error event
(see :mod:`adaptive_router.proxy.relay`). A client that disconnects cancels the upstream
request. :meth:`Forwarder.forward` returns an :class:`Outcome`: what happened.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
import orjson

from adaptive_router.errors import BadRequest, UpstreamUnavailable
from adaptive_router.proxy.asgi import Exchange, disconnected
from adaptive_router.proxy.config import ProxyConfig
from adaptive_router.proxy.limits import with_max_tokens
from adaptive_router.proxy.metrics import ProxyMetrics
from adaptive_router.proxy.relay import relay_stream, relay_whole
from adaptive_router.proxy.requests import CompletionRequest
from adaptive_router.proxy.transport import (
    HOP_BY_HOP,
    Client,
    UpstreamFailure,
    discover_model,
    open_upstream,
)
from adaptive_router.proxy.upstream import TierPool, Upstream
from adaptive_router.router import AdaptiveRouter, Decision
from adaptive_router.tiers import Tier, other_tier

logger = logging.getLogger(__name__)

_MODEL_RECHECK_S = 30.0
CLIENT_CLOSED = 499  # the status recorded when the client left before the answer ended


@dataclass(frozen=True, slots=True)
class Job:
    """One routed request to forward: the client exchange, the endpoint, the parsed request
    and the routing decision."""

    exchange: Exchange
    path: str
    request: CompletionRequest
    decision: Decision


@dataclass(frozen=True, slots=True)
class Outcome:
    """What happened to a forwarded request."""

    tier: Tier | None  # the tier that answered (None: none could)
    status: int  # what the client was answered; CLIENT_CLOSED if it left first
    ttft_ms: float | None = None  # streamed answers: time to the first generated token
    failover: bool = False  # the other tier answered


@dataclass(slots=True)
class _Progress:
    """How far a request got, for the outcome of one that the client abandons."""

    tier: Tier | None = None
    failover: bool = False
    ttft_ms: float | None = None

    def outcome(self, status: int) -> Outcome:
        return Outcome(self.tier, status, self.ttft_ms, self.failover)


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

    async def forward(self, job: Job) -> Outcome:
        """Answer ``job``'s client; a client that disconnects cancels the work upstream.

        Raises UpstreamUnavailable (a 503 for the client) when no tier could answer.
        """
        current = asyncio.current_task()
        assert current is not None
        left = False

        async def watch() -> None:
            nonlocal left
            await disconnected(job.exchange.receive)
            left = True
            current.cancel()

        progress = _Progress()
        watcher = asyncio.create_task(watch())
        try:
            return await self._forward(job, progress)
        except asyncio.CancelledError:
            if not left:
                raise  # cancelled from elsewhere (shutdown): not ours to swallow
            current.uncancel()
            logger.info("request %s: client disconnected, upstream cancelled", _id(job))
            return progress.outcome(CLIENT_CLOSED)
        finally:
            watcher.cancel()

    async def resolve_model(
        self, upstream: Upstream, timeout_s: float, retry_after_s: float = _MODEL_RECHECK_S
    ) -> str | None:
        """The model name sent to ``upstream``: its tier's configured one, else the first
        model the server lists (asked again at most every ``retry_after_s`` until known)."""
        configured = self.config.tier(upstream.tier).model
        if configured:
            upstream.model = configured
        now = time.monotonic()
        if upstream.model is None and now >= upstream.model_checked_at:
            upstream.model_checked_at = now + retry_after_s
            upstream.model = await discover_model(
                self.client().pooled, upstream.base_url, timeout_s
            )
        return upstream.model

    async def _forward(self, job: Job, progress: _Progress) -> Outcome:
        order = [job.decision.tier]
        if self.config.failover:
            order.append(other_tier(job.decision.tier))
        failures: list[str] = []
        suspects: list[tuple[Upstream, UpstreamFailure]] = []  # a 5xx: the engine or the request?
        for attempt, tier in enumerate(order):
            upstream = self.pools[tier].pick()
            if upstream is None:
                self.metrics.upstream_errors.labels(tier, "circuit_open").inc()
                failures.append(f"{tier}: no upstream in rotation")
                continue
            try:
                outcome = await self._try(job, upstream, attempt > 0, progress)
            except UpstreamFailure as failure:
                failures.append(f"{tier} at {upstream.base_url}: {failure}")
                logger.warning("request %s: %s failed: %s", _id(job), tier, failure)
                if failure.maybe_the_request:
                    suspects.append((upstream, failure))
                else:
                    self.metrics.upstream_errors.labels(tier, failure.kind).inc()
                continue
            self._blame(suspects)  # the other tier answered: those 5xx were their engines'
            return outcome
        if len(suspects) == len(order) > 1 and len({f.status for _, f in suspects}) == 1:
            raise self._rejected(suspects)
        self._blame(suspects)
        raise UpstreamUnavailable(
            "no tier could answer: " + "; ".join(failures), code="upstreams_unavailable"
        )

    def _blame(self, suspects: list[tuple[Upstream, UpstreamFailure]]) -> None:
        """Count each suspect 5xx as its engine's failure (toward the breaker)."""
        for upstream, failure in suspects:
            self.metrics.upstream_errors.labels(upstream.tier, failure.kind).inc()
            upstream.fault(str(failure), time.monotonic())

    def _rejected(self, suspects: list[tuple[Upstream, UpstreamFailure]]) -> BadRequest:
        """Every tier refused the request with the same 5xx: the request is at fault, not
        the engines (no breaker counts it); the client gets the engine's own message."""
        for upstream, _failure in suspects:
            self.metrics.upstream_errors.labels(upstream.tier, "rejected").inc()
        first = suspects[0][1]
        tiers = ", ".join(f"{u.tier} HTTP {f.status}" for u, f in suspects)
        return BadRequest(
            f"{first.detail or 'the engine refused the request'} (every tier refused this "
            f"request: {tiers})",
            code="upstream_rejected_request",
        )

    async def _try(
        self, job: Job, upstream: Upstream, failover: bool, progress: _Progress
    ) -> Outcome:
        """One attempt on ``upstream``; raises UpstreamFailure before the first byte."""
        tier = upstream.tier
        config = self.config.tier(tier)
        model = await self.resolve_model(upstream, min(config.connect_timeout_s, 2.0))
        limit = job.decision.max_tokens[tier]
        body = orjson.dumps(_payload(job.request, model, limit))
        upstream.begin(time.monotonic())
        in_flight = self.metrics.in_flight.labels(tier)
        in_flight.inc()
        error: str | None = None
        settled = False  # False: no verdict on the upstream (the client left)
        try:
            opened = await open_upstream(
                self.client(),
                upstream.base_url + job.path.removeprefix("/v1"),
                body,
                self._headers(job.exchange, config.api_key),
                config,
                self._timeouts[tier],
                job.request.stream,
            )
            progress.tier, progress.failover = tier, failover
            first_tier = job.decision.tier
            if failover:
                self.metrics.failovers.labels(first_tier, tier).inc()
            headers = _route_headers(job.decision, tier, first_tier if failover else None)
            ex, status = job.exchange, opened.response.status
            if job.request.stream and status == 200:
                relayed = await relay_stream(
                    ex, opened, headers, idle_s=config.idle_timeout_s, label=tier,
                    first_token=lambda: self._first_token(tier, ex.started, progress),
                )  # fmt: skip
                error = relayed.error
                if error is not None:
                    self.metrics.upstream_errors.labels(tier, "stream").inc()
            else:
                await relay_whole(ex, opened, headers, job.request.stream)
            settled = True
            self._answered(tier, status, ex.started)
            return progress.outcome(status)
        except UpstreamFailure as failure:
            # a 5xx the request itself may have caused is judged once the other tier answers
            error, settled = str(failure), not failure.maybe_the_request
            raise
        finally:
            in_flight.dec()
            _settle(upstream, settled, error)

    def _headers(self, ex: Exchange, api_key: str) -> dict[str, str]:
        drop = HOP_BY_HOP | {self.config.tier_header}
        headers = {
            k: v for k, v in ex.headers.items() if k not in drop and not k.startswith("x-stratum-")
        }
        headers["content-type"] = "application/json"
        headers["x-request-id"] = ex.request_id
        if api_key:
            headers["authorization"] = f"Bearer {api_key}"
        return headers

    def _first_token(self, tier: Tier, started: float, progress: _Progress) -> float:
        ttft_s = time.perf_counter() - started
        self.router.observe(tier, ttft_s * 1000.0)
        self.metrics.ttft.labels(tier).observe(ttft_s)
        progress.ttft_ms = ttft_s * 1000.0
        return progress.ttft_ms

    def _answered(self, tier: Tier, status: int, started: float) -> None:
        total_s = time.perf_counter() - started
        self.metrics.requests.labels(tier, str(status)).inc()
        if status < 400:
            self.router.observe(tier, None, total_s * 1000.0)
            self.metrics.duration.labels(tier).observe(total_s)


def _payload(request: CompletionRequest, model: str | None, limit: int) -> dict[str, Any]:
    payload = with_max_tokens(dict(request.payload), request.max_tokens, limit)
    if model:
        payload["model"] = model
    else:  # unknown upstream name: let the server use its default model
        payload.pop("model", None)
    return payload


def _id(job: Job) -> str:
    return job.exchange.request_id


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


def _settle(upstream: Upstream, settled: bool, error: str | None) -> None:
    if not settled:
        upstream.released()
    elif error is None:
        upstream.succeeded()
    else:
        upstream.failed(error, time.monotonic())
