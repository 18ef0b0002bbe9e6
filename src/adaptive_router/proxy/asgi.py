"""The ASGI types the proxy speaks, and :class:`Exchange`: one request and its client.

The proxy is a plain ASGI callable (no framework): ``app(scope, receive, send)``. An
:class:`Exchange` bundles what one HTTP request needs to answer its client; what happened
to the request is *returned* by the code that answers it, never written back here.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from typing import Any

import orjson

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


@dataclass(slots=True)
class Exchange:
    """One HTTP request from a client, and the means to answer it.

    ``response_started`` guards against a second response once the first one has begun.
    """

    scope: Scope
    receive: Receive
    send: Send
    headers: dict[str, str]
    request_id: str
    started: float  # time.perf_counter() when the request arrived
    response_started: bool = field(default=False)

    async def start(self, status: int, headers: list[tuple[bytes, bytes]]) -> None:
        """Send the status line and headers (``x-request-id`` added)."""
        headers.append((b"x-request-id", self.request_id.encode()))
        self.response_started = True
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


def request_headers(scope: Scope) -> dict[str, str]:
    """The request's headers, names lower-case as ASGI gives them."""
    return {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}


async def send_whole(
    send: Send, status: int, body: bytes, content_type: str = "application/json"
) -> None:
    """A complete response with a correct Content-Length."""
    headers = [
        (b"content-type", content_type.encode()),
        (b"content-length", str(len(body)).encode()),
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def disconnected(receive: Receive) -> None:
    """Return when the client has gone away."""
    while (await receive())["type"] != "http.disconnect":
        pass
