"""uvicorn's httptools protocol with the guards it lacks: request timeouts and a head size cap.

uvicorn waits for a request for as long as a client cares to take, and keeps its headers in
memory whatever their size: 1,000 clients that connect and send nothing, or trickle a byte a
minute, hold 1,000 connections for ever, and one 100 MB header is read whole. Here every
request must have sent its complete head (request line and headers) within
``header_timeout_s`` of its first byte (of the connection, for the first request) and its
body within ``body_timeout_s`` of its head, or the connection is closed; and a head larger
than ``max_head_bytes`` is answered 431 and closed.
"""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol


class _HeadTooLarge(Exception):
    pass


class GuardedHttpTools(HttpToolsProtocol):
    """HttpToolsProtocol with a header timeout and a cap on the request head's size.

    Use :func:`guarded_protocol` to get a class with the limits set.
    """

    header_timeout_s: float = 10.0
    body_timeout_s: float = 60.0
    max_head_bytes: int = 32 * 1024

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._sending_timer: asyncio.TimerHandle | None = None
        self._head_bytes = 0
        self._head_too_large = False

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_sending_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_sending_timer()
        super().connection_lost(exc)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._head_bytes = 0
        self._arm_sending_timer()

    def on_url(self, url: bytes) -> None:
        self._count(len(url))
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._count(len(name) + len(value) + 4)
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._disarm_sending_timer()
        self._arm_sending_timer(self.body_timeout_s)  # now for the body
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._disarm_sending_timer()
        super().on_message_complete()

    def send_400_response(self, msg: str) -> None:
        if not self._head_too_large:
            super().send_400_response(msg)
            return
        error = {
            "message": f"request head (line and headers) over {self.max_head_bytes:,} bytes",
            "type": "invalid_request_error",
            "param": None,
            "code": "headers_too_large",
        }
        body = orjson.dumps({"error": error})
        self.transport.write(
            b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-type: application/json\r\n"
            b"content-length: %d\r\nconnection: close\r\n\r\n%s" % (len(body), body)
        )
        self.transport.close()

    def _count(self, size: int) -> None:
        self._head_bytes += size
        if self._head_bytes > self.max_head_bytes:
            self._head_too_large = True
            raise _HeadTooLarge  # the parser stops; uvicorn calls send_400_response

    def _arm_sending_timer(self, timeout_s: float | None = None) -> None:
        if self._sending_timer is None:
            self._sending_timer = self.loop.call_later(
                timeout_s or self.header_timeout_s, self._too_slow
            )

    def _disarm_sending_timer(self) -> None:
        if self._sending_timer is not None:
            self._sending_timer.cancel()
            self._sending_timer = None

    def _too_slow(self) -> None:
        self._sending_timer = None
        if not self.transport.is_closing():
            self.transport.close()


def guarded_protocol(
    header_timeout_s: float, body_timeout_s: float, max_head_bytes: int
) -> type[GuardedHttpTools]:
    """A :class:`GuardedHttpTools` class with these limits, for ``uvicorn.Config(http=...)``."""
    limits = {
        "header_timeout_s": header_timeout_s,
        "body_timeout_s": body_timeout_s,
        "max_head_bytes": max_head_bytes,
    }
    return type("GuardedHttpTools", (GuardedHttpTools,), limits)
