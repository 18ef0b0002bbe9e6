"""The ASGI app: an OpenAI-compatible endpoint in front of two tiers.

A plain ASGI callable that knows no server (``stratum serve`` runs it under uvicorn):

    >>> from adaptive_router.proxy import create_app, load_settings
    >>> app = create_app(load_settings(overrides={  # doctest: +SKIP
    ...     "tier_low_url": "http://127.0.0.1:8081/v1",
    ...     "tier_high_url": "http://127.0.0.1:8082/v1"}))
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import orjson

from adaptive_router.errors import (
    BadRequest,
    HTTPError,
    MethodNotAllowed,
    NotFound,
)
from adaptive_router.proxy.asgi import (
    Exchange,
    Receive,
    Scope,
    Send,
    request_headers,
    send_whole,
)
from adaptive_router.proxy.auth import check_api_key, check_may_force_tier
from adaptive_router.proxy.config import Settings
from adaptive_router.proxy.forward import Forwarder, Job, Outcome
from adaptive_router.proxy.limits import max_tokens_for
from adaptive_router.proxy.metrics import CONTENT_TYPE, DIVERTING_RULES, ProxyMetrics
from adaptive_router.proxy.requests import (
    ClientDisconnected,
    CompletionRequest,
    parse_chat,
    parse_completion,
    read_body,
    session_key,
)
from adaptive_router.proxy.status import StatusBoard
from adaptive_router.proxy.status import page as status_page
from adaptive_router.proxy.transport import Client, new_client
from adaptive_router.proxy.upstream import TierPool, Upstream
from adaptive_router.router import AdaptiveRouter, Decision
from adaptive_router.tiers import TIERS, Tier, parse_tier

logger = logging.getLogger(__name__)

_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
_PARSERS = {"/v1/chat/completions": parse_chat, "/v1/completions": parse_completion}


def create_app(settings: Settings, *, router: AdaptiveRouter | None = None) -> ProxyApp:
    """The proxy as an ASGI app. Raises ConfigError if a tier has no upstream."""
    return ProxyApp(settings, router=router)


class ProxyApp:
    """ASGI app for ``/v1/chat/completions``, ``/v1/completions``, ``/v1/models``,
    ``/health`` and ``/metrics``. Starts and stops its HTTP client with the ASGI lifespan.
    """

    def __init__(self, settings: Settings, *, router: AdaptiveRouter | None = None) -> None:
        settings.proxy.require_upstreams()
        self.settings = settings
        proxy = settings.proxy
        self.router = router or AdaptiveRouter(
            settings.routing, upstreams={tier: proxy.tier(tier).url for tier in TIERS}
        )
        self.pools: dict[Tier, TierPool] = {
            tier: TierPool(
                tier,
                [
                    Upstream(tier, url, proxy.breaker_failures, proxy.breaker_cooldown_s)
                    for url in proxy.tier(tier).url
                ],
            )
            for tier in TIERS
        }
        self.metrics = ProxyMetrics(self.router.state, self.pools)
        self.aliases = proxy.alias_targets()
        self.created = int(time.time())
        self._client: Client | None = None
        self._forwarder = Forwarder(proxy, self.pools, self.router, self.metrics, self.client)
        self.board = StatusBoard()
        self._get_routes: dict[str, Callable[[Scope, Send], Awaitable[None]]] = {
            "/": self._page,
            "/api/status": self._status,
            "/v1/models": self._models,
            "/health": self._health,
            "/metrics": self._metrics,
        }

    def client(self) -> Client:
        """The upstream client (created on first use if no lifespan ran)."""
        if self._client is None or self._client.closed:
            self._client = new_client()
        return self._client

    async def startup(self) -> None:
        """Open the upstream client and learn each upstream's model name."""
        for pool in self.pools.values():
            timeout_s = min(self.settings.proxy.tier(pool.tier).connect_timeout_s, 5.0)
            for upstream in pool.upstreams:
                await self._forwarder.resolve_model(upstream, timeout_s, retry_after_s=0.0)

    async def shutdown(self) -> None:
        """Close the upstream client and stop the router's monitor."""
        if self._client is not None:
            await self._client.close()
        self.router.close()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            await self._http(scope, receive, send)
        elif scope["type"] == "lifespan":
            await self._lifespan(receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await self.startup()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.shutdown()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = request_headers(scope)
        given = headers.get("x-request-id", "")
        request_id = given if _REQUEST_ID.fullmatch(given) else uuid.uuid4().hex
        exchange = Exchange(scope, receive, send, headers, request_id, time.perf_counter())
        try:
            await self._dispatch(exchange)
        except HTTPError as exc:
            if exc.status < 500:
                self.metrics.client_errors.labels(str(exc.status)).inc()
            await exchange.send_json(exc.status, exc.body())
        except ClientDisconnected:
            return

    async def _dispatch(self, exchange: Exchange) -> None:
        method = exchange.scope["method"]
        path = exchange.scope["path"].rstrip("/") or "/"
        parse = _PARSERS.get(path)
        if parse is not None:
            if method != "POST":
                raise MethodNotAllowed(f"{path} takes POST, not {method}")
            check_api_key(exchange.headers, self.settings.proxy.api_keys)
            await self._completion(exchange, path, parse)
            return
        handler = self._get_routes.get(path)
        if handler is None:
            raise NotFound(f"no such endpoint: {path}", code="not_found")
        if method not in ("GET", "HEAD"):
            raise MethodNotAllowed(f"{path} takes GET, not {method}")
        if path == "/v1/models":
            check_api_key(exchange.headers, self.settings.proxy.api_keys)
        await handler(exchange.scope, exchange.send)

    async def _completion(
        self, exchange: Exchange, path: str, parse: Callable[[bytes], CompletionRequest]
    ) -> None:
        limit = int(self.settings.proxy.max_body_mb * 1_000_000)
        body = await read_body(exchange.receive, limit, exchange.headers.get("content-length"))
        request = parse(body)
        forced = self._requested_tier(request.model, exchange.headers)
        decision = self._route(request, forced, exchange.headers)
        outcome = Outcome(None, 500)
        try:
            outcome = await self._forwarder.forward(Job(exchange, path, request, decision))
        except HTTPError as exc:
            outcome = Outcome(None, exc.status)
            raise
        finally:
            total_ms = (time.perf_counter() - exchange.started) * 1000.0
            self.board.record(decision, outcome, total_ms)

    def _route(
        self, request: CompletionRequest, forced: Tier | None, headers: dict[str, str]
    ) -> Decision:
        """The routing decision for ``request``, counted in the metrics."""
        proxy, metrics = self.settings.proxy, self.metrics
        try:
            decision = self.router.explain(
                request.prompt,
                tier=forced,
                session=session_key(headers, self.settings.routing.session_header),
                max_tokens={t: max_tokens_for(request.max_tokens, proxy.tier(t)) for t in TIERS},
                max_tokens_is_default=request.max_tokens is None,
                tools=request.payload.get("tools"),
            )
        except HTTPError as exc:
            metrics.refusals.labels(exc.code or "bad_request").inc()
            raise
        metrics.decisions.labels(decision.tier, decision.rule).inc()
        metrics.score.observe(decision.score)
        if decision.rule in DIVERTING_RULES:
            metrics.diversions.labels(decision.rule, decision.tier).inc()
        return decision

    def _requested_tier(self, model: str | None, headers: dict[str, str]) -> Tier | None:
        proxy = self.settings.proxy
        header = headers.get(proxy.tier_header)
        if header:
            check_may_force_tier(headers, proxy.force_tier_keys, f"the {proxy.tier_header} header")
            try:
                return parse_tier(header)
            except ValueError as exc:
                raise BadRequest(f"{self.settings.proxy.tier_header}: {exc}") from None
        if model is None:
            return None
        if model not in self.aliases:
            names = ", ".join(self.aliases)
            raise NotFound(
                f"The model '{model}' does not exist here. Available models: {names}",
                param="model",
                code="model_not_found",
            )
        if self.aliases[model] is not None:
            check_may_force_tier(headers, proxy.force_tier_keys, f"model '{model}'")
        return self.aliases[model]

    async def _models(self, scope: Scope, send: Send) -> None:
        data = [
            {"id": name, "object": "model", "created": self.created, "owned_by": "stratum"}
            for name in self.aliases
        ]
        await send_whole(send, 200, orjson.dumps({"object": "list", "data": data}))

    def tier_health(self) -> dict[str, dict[str, Any]]:
        """Readiness and upstream state per tier (the body of /health)."""
        now = time.monotonic()
        return {
            tier: {
                "ready": pool.ready(),
                "upstreams": [
                    {
                        "url": u.base_url,
                        "state": u.state(now),
                        "in_flight": u.in_flight,
                        "consecutive_failures": u.failures,
                        "last_error": u.last_error,
                        "model": u.model,
                    }
                    for u in pool.upstreams
                ],
            }
            for tier, pool in self.pools.items()
        }

    async def _health(self, scope: Scope, send: Send) -> None:
        tiers = self.tier_health()
        ready = [t for t, info in tiers.items() if info["ready"]]
        status = "ok" if len(ready) == len(tiers) else "degraded" if ready else "down"
        body = {"status": status, "tiers": tiers}
        await send_whole(send, 200 if ready else 503, orjson.dumps(body))

    async def _page(self, scope: Scope, send: Send) -> None:
        await send_whole(send, 200, status_page(), "text/html; charset=utf-8")

    async def _status(self, scope: Scope, send: Send) -> None:
        body = self.board.snapshot(self.router.state(), self.tier_health())
        await send_whole(send, 200, orjson.dumps(body))

    async def _metrics(self, scope: Scope, send: Send) -> None:
        await send_whole(send, 200, self.metrics.render(), CONTENT_TYPE)
