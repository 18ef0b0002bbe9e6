"""The upstream transport: pooled aiohttp requests, opened up to the first byte.

:func:`open_upstream` sends one request and returns once the upstream has answered with a
status and its first bytes, so that everything that can fail *before* the client sees a byte
(connection refused, a 5xx, no first byte in time) raises :class:`UpstreamFailure` and the
caller can fail over. Lower-layer errors (aiohttp, OSError, timeouts) stop here.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import aiohttp
import orjson

from adaptive_router.proxy.config import TierConfig

# Headers that describe one connection, not the message: never forwarded (RFC 9110 7.6.1),
# plus those the proxy sets itself.
HOP_BY_HOP = frozenset(
    {
        "connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te",
        "trailer", "transfer-encoding", "upgrade", "host", "content-length",
        "content-encoding", "authorization", "accept-encoding",
    }
)  # fmt: skip


# 5xx answers that say the engine (or a gateway before it) cannot serve anything now; any
# other 5xx may be the request's own doing (llama-server answers 500 to a request with tools
# when it runs without --jinja), which only trying the other tier can tell.
ENGINE_DOWN_STATUSES = frozenset({502, 503, 504})


class UpstreamFailure(Exception):
    """The upstream failed before its first byte; ``kind`` labels the metric.

    ``status`` is the upstream's HTTP status when it answered one (a 5xx), ``detail`` the
    error message it gave, for a client that must be told what its request did wrong.
    """

    def __init__(
        self, kind: str, message: str, *, status: int | None = None, detail: str = ""
    ) -> None:
        super().__init__(message)
        self.kind = kind
        self.status = status
        self.detail = detail

    @property
    def maybe_the_request(self) -> bool:
        """True for a 5xx that may have been caused by the request rather than the engine."""
        return self.status is not None and self.status not in ENGINE_DOWN_STATUSES


@dataclass(slots=True)
class Opened:
    """An upstream response whose status and first bytes have arrived."""

    response: aiohttp.ClientResponse
    first: bytes  # the first chunk (streams) or the whole body (non-streams)


KEEPALIVE_S = 4.0


@dataclass(slots=True)
class Client:
    """The upstream HTTP client: a keep-alive pool, plus fresh connections for the retry.

    An idle connection leaves the pool after ``KEEPALIVE_S``, before the engines drop it
    themselves (llama-server and uvicorn, which serves vLLM and SGLang, close a connection
    idle for 5 s). llama-server also closes the connection after every *streamed* answer
    while its headers promise keep-alive, so a pooled connection can be dead on reuse before
    the client has seen it close; the request then fails as it is written, and so can a
    retry on the next pooled connection. The one retry therefore goes out on a new one.
    """

    pooled: aiohttp.ClientSession
    fresh: aiohttp.ClientSession

    @property
    def closed(self) -> bool:
        return self.pooled.closed

    async def close(self) -> None:
        await self.pooled.close()
        await self.fresh.close()


def new_client() -> Client:
    """A pooled session (no per-host limit) and a session that never reuses a connection."""
    pooled = aiohttp.TCPConnector(limit=0, ttl_dns_cache=300, keepalive_timeout=KEEPALIVE_S)
    fresh = aiohttp.TCPConnector(limit=0, ttl_dns_cache=300, force_close=True)
    return Client(_session(pooled), _session(fresh))


def _session(connector: aiohttp.TCPConnector) -> aiohttp.ClientSession:
    # No cookie jar: one session serves every client, so a cookie an upstream set in one
    # client's answer must never ride along on the next client's request.
    return aiohttp.ClientSession(
        connector=connector,
        timeout=aiohttp.ClientTimeout(total=None),
        trust_env=False,
        cookie_jar=aiohttp.DummyCookieJar(),
    )


async def open_upstream(
    client: Client,
    url: str,
    body: bytes,
    headers: dict[str, str],
    tier: TierConfig,
    timeout: aiohttp.ClientTimeout,
    stream: bool,
) -> Opened:
    """POST ``body`` to ``url``; return after the first byte, or raise UpstreamFailure.

    ``timeout`` carries the tier's connect and total limits (built once per tier).
    """
    response: aiohttp.ClientResponse | None = None
    try:
        # An unstreamed answer's first byte comes when it is complete: only the total applies.
        async with asyncio.timeout(tier.first_byte_timeout_s if stream else None):
            response = await _post(client, url, body, headers, timeout)
            if response.status >= 500:
                detail = _error_message(await response.read())
                raise UpstreamFailure(
                    "status", f"HTTP {response.status}: {detail}", status=response.status,
                    detail=detail,
                )  # fmt: skip
            first = await (response.content.readany() if stream else response.read())
        return Opened(response, first)
    except UpstreamFailure:
        _close(response)
        raise
    except TimeoutError:
        _close(response)
        kind = "timeout" if response is not None else "connect_timeout"
        raise UpstreamFailure(kind, _timeout_message(response, tier, stream)) from None
    except (aiohttp.ClientError, OSError) as exc:
        _close(response)
        raise UpstreamFailure("connect", f"{type(exc).__name__}: {exc}") from None
    except BaseException:
        _close(response)
        raise


async def _post(
    client: Client,
    url: str,
    body: bytes,
    headers: dict[str, str],
    timeout: aiohttp.ClientTimeout,
) -> aiohttp.ClientResponse:
    """POST on a pooled connection; once more on a new one if that one was dead.

    A connection the server closed fails the request while it is written or before any
    answer, so the server never worked on it; sending it again is safe.
    """
    try:
        return await client.pooled.post(url, data=body, headers=headers, timeout=timeout)
    except aiohttp.ClientConnectorError:
        raise  # could not connect at all: nothing stale to retry
    except (aiohttp.ClientOSError, aiohttp.ServerDisconnectedError):
        return await client.fresh.post(url, data=body, headers=headers, timeout=timeout)


def _timeout_message(
    response: aiohttp.ClientResponse | None, tier: TierConfig, stream: bool
) -> str:
    if not stream:
        return f"no complete answer within {tier.total_timeout_s:g} s"
    if response is None:
        return f"no response within {tier.first_byte_timeout_s:g} s"
    return f"no first byte within {tier.first_byte_timeout_s:g} s"


def _error_message(body: bytes) -> str:
    """The message of an OpenAI-style error body, else the body's start, as one line."""
    message: object = None
    try:
        data = orjson.loads(body)
        error = data.get("error") if isinstance(data, dict) else None
        message = error.get("message") if isinstance(error, dict) else error
    except orjson.JSONDecodeError:
        pass
    text = message if isinstance(message, str) else body[:300].decode("utf-8", "replace")
    return " ".join(text.split())[:300]


def _close(response: aiohttp.ClientResponse | None) -> None:
    if response is not None:
        response.close()


async def discover_model(
    session: aiohttp.ClientSession, base_url: str, timeout_s: float
) -> str | None:
    """The first model id an OpenAI-compatible server lists at /models, or None."""
    try:
        async with session.get(
            base_url + "/models", timeout=aiohttp.ClientTimeout(total=timeout_s)
        ) as response:
            if response.status != 200:
                return None
            data = orjson.loads(await response.read())
    except (aiohttp.ClientError, OSError, TimeoutError, orjson.JSONDecodeError):
        return None
    models = data.get("data") if isinstance(data, dict) else None
    if isinstance(models, list) and models and isinstance(models[0], dict):
        model_id = models[0].get("id")
        return model_id if isinstance(model_id, str) else None
    return None
