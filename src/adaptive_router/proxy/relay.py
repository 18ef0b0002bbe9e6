"""Relaying an upstream's answer to the client: whole, or streamed chunk by chunk.

Upstream bytes go to the client untouched, as they arrive. A stream is read only until its
first generated token (the TTFT moment, see :mod:`adaptive_router.proxy.sse`); after that the
hot loop does nothing per chunk but send it on. An SSE event that an upstream splits across
reads is held back until its end has arrived, so the client only ever gets whole events: a
stream that breaks or stalls after the first byte then ends with an SSE error event of its
own (the OpenAI SDKs raise it), never with half an event, and never hangs.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass

import aiohttp

from adaptive_router.proxy.asgi import Exchange
from adaptive_router.proxy.sse import FirstContentDetector, error_event, split_events
from adaptive_router.proxy.transport import Opened, UpstreamFailure


@dataclass(frozen=True, slots=True)
class Relayed:
    """How a streamed answer went: ``error`` says why it broke (None: it ended normally)."""

    ttft_ms: float | None
    error: str | None


async def relay_whole(
    ex: Exchange, opened: Opened, headers: list[tuple[bytes, bytes]], streamed: bool
) -> None:
    """Relay a complete answer (unstreamed, or an error status to a streamed request).

    Raises UpstreamFailure when the rest of the body cannot be read (nothing sent yet).
    """
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


async def relay_stream(
    ex: Exchange,
    opened: Opened,
    headers: list[tuple[bytes, bytes]],
    *,
    idle_s: float,
    label: str,
    first_token: Callable[[], float],
) -> Relayed:
    """Relay a stream as it arrives; ``first_token()`` is called once, at the first
    generated token, and returns the TTFT in milliseconds. ``label`` names the upstream
    in the error event of a stream that breaks."""
    response = opened.response
    content_type = response.headers.get("content-type", "text/event-stream")
    headers += [
        (b"content-type", content_type.encode("latin-1")),
        (b"cache-control", b"no-cache"),
        (b"x-accel-buffering", b"no"),
    ]
    detector = FirstContentDetector()
    chunk, pending = opened.first, b""  # pending: an event whose end has not arrived yet
    ttft_ms: float | None = None
    error: str | None = None
    ended = False  # read to the end
    loop = asyncio.get_running_loop()
    try:
        await ex.start(200, headers)
        # The idle deadline moves only when less than idle_s is left, not on every chunk
        # (a timer per chunk costs more than the chunk): a silent stream ends after
        # between idle_s and 2 * idle_s.
        deadline = loop.time() + 2 * idle_s
        send, read = ex.send, response.content.readany
        async with asyncio.timeout_at(deadline) as idle:
            while chunk:  # the hot loop: one pass per upstream chunk, kept lean
                if ttft_ms is None and detector.feed(chunk):
                    ttft_ms = first_token()
                body = chunk
                if pending or not chunk.endswith(b"\n\n"):
                    body, pending = split_events(pending + chunk)
                if body:
                    await send({"type": "http.response.body", "body": body, "more_body": True})
                if deadline - loop.time() < idle_s:
                    deadline = loop.time() + 2 * idle_s
                    idle.reschedule(deadline)
                chunk = await read()
            ended = True
    except TimeoutError:
        error = f"stream stalled: no chunk for {idle_s:g} s"
    except (aiohttp.ClientError, OSError) as exc:
        error = f"stream broke: {type(exc).__name__}: {exc}"
    except asyncio.CancelledError:
        # the server's drain timeout ran out (a client that left never reads this): say so
        # rather than let the stream stop mid-answer without a word
        reason = f"{label} stream cut: the router is shutting down"
        with contextlib.suppress(Exception):
            await ex.body(error_event(reason, code=503, type_="service_unavailable"))
        raise
    finally:
        if ended and error is None:
            response.release()  # read to the end: the connection goes back to the pool
        else:
            response.close()  # broken, stalled or abandoned: drop the connection
    if error is not None:  # what came of an unfinished event is dropped
        await ex.body(error_event(f"{label} upstream failed mid-answer: {error}"))
    elif pending:  # the upstream ended in the middle of an event: pass it on as it is
        await ex.body(pending)
    await ex.body(b"", more=False)
    return Relayed(ttft_ms, error)
