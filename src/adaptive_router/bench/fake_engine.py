"""A scripted, paced OpenAI-compatible engine, for tests and for measuring a proxy's overhead.

It is a fake for protocol edge cases and overhead measurement, not a model: every request
gets the same made-up answer, on a timetable and in a shape the caller sets. A real
llama-server cannot be told to answer 500, stall before its first byte or die in the middle
of a stream; this engine can, and it spends almost no CPU doing it (events are encoded once),
so a proxy in front of it shows its own cost.

It answers ``POST /v1/chat/completions`` and ``/v1/completions``, ``GET /v1/models`` and
``GET /health`` on 127.0.0.1. A streamed answer is a role-only delta (chat only), then
``chunks`` content events (``"<name>-0 "``, ``"<name>-1 "``, ...; the last one carries
``finish_reason: "stop"``), the first ``ttft_s`` after the headers and each next one
``delay_s`` after the one before, then ``data: [DONE]``. An unstreamed answer comes at once.
``behaviour`` bends that:

- ``"ok"``: as above;
- ``"status"``: answers ``status`` (500 while it is left at 200) with an OpenAI error body;
- ``"stall"``: sends nothing for ``delay_s`` before answering;
- ``"stall_midstream"``: sends one content event, then nothing for ``delay_s``;
- ``"die_midstream"``: sends two content events, then drops the connection.

Any ``status`` other than 200 is answered with the error body too, and ``script`` replaces
the generated stream by exact ``(delay s, bytes)`` pieces, for SSE parsers' edge cases
(``None`` for bytes drops the connection there). The engine records each request in
``seen`` and counts streams ``completed`` or ``abandoned``.

    >>> engine = await FakeEngine(name="low", chunks=3).start()  # doctest: +SKIP
    >>> engine.url  # doctest: +SKIP
    'http://127.0.0.1:40123/v1'
    >>> await engine.stop()  # doctest: +SKIP

As a process of its own (``benchmarks/proxy_overhead.py`` runs it so):

    python -m adaptive_router.bench.fake_engine --port 8081 --chunks 16 --gap-ms 5
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import socket
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Self

import orjson
from aiohttp import web

Behaviour = Literal["ok", "status", "stall", "stall_midstream", "die_midstream"]
DONE = b"data: [DONE]\n\n"


def sse_event(data: object) -> bytes:
    """One server-sent event carrying ``data`` as JSON."""
    return b"data: " + orjson.dumps(data) + b"\n\n"


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port free on ``host`` right now (the OS picks it), to start a server on."""
    with socket.socket() as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


def new_loop() -> asyncio.AbstractEventLoop:
    """uvloop's event loop when it is installed (``uvicorn[standard]``), else asyncio's."""
    with contextlib.suppress(ImportError):
        import uvloop

        return uvloop.new_event_loop()
    return asyncio.new_event_loop()


@dataclass
class LoopbackServer:
    """An aiohttp app on a free loopback port; subclasses add their routes in ``routes``.

    ``url`` is the ``/v1`` base once :meth:`start` has returned.
    """

    url: str = ""
    _runner: web.AppRunner | None = field(default=None, repr=False)

    def routes(self, app: web.Application) -> None:
        raise NotImplementedError

    def app(self) -> web.Application:
        """A new aiohttp application serving this server's routes."""
        app = web.Application()
        self.routes(app)
        return app

    async def start(self) -> Self:
        # stop() cancels a handler still pausing after 0.5 s rather than wait out its pause
        self._runner = web.AppRunner(self.app(), access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        self.url = f"http://127.0.0.1:{self._runner.addresses[0][1]}/v1"
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()


@dataclass
class Seen:
    """One request the engine received."""

    path: str
    headers: dict[str, str]  # names in lower case
    body: bytes

    def json(self) -> Any:
        return orjson.loads(self.body)


@dataclass
class FakeEngine(LoopbackServer):
    """The fake engine; see the module docstring. Attributes may change between requests."""

    name: str = "fake"
    model: str = "fake-model"
    chunks: int = 4
    ttft_s: float = 0.0
    delay_s: float = 0.0
    behaviour: Behaviour = "ok"
    status: int = 200
    error: str = "upstream broke"
    script: Sequence[tuple[float, bytes | None]] | None = None
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "text/event-stream"
    max_model_len: int | None = None  # listed in /v1/models as vLLM and SGLang do
    keep_requests: bool = True  # False: ``seen`` stays empty (a long benchmark run)
    seen: list[Seen] = field(default_factory=list)
    completed: int = 0
    abandoned: int = 0

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/v1/chat/completions", self._complete)
        app.router.add_post("/v1/completions", self._complete)
        app.router.add_get("/v1/models", self._models)
        app.router.add_get("/health", self._health)

    async def _models(self, request: web.Request) -> web.Response:
        model: dict[str, Any] = {"id": self.model, "object": "model"}
        if self.max_model_len is not None:
            model["max_model_len"] = self.max_model_len
        return web.json_response({"object": "list", "data": [model]})

    async def _health(self, request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def _complete(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        if self.keep_requests:
            headers = {k.lower(): v for k, v in request.headers.items()}
            self.seen.append(Seen(request.path, headers, body))
        if (status := self._error_status()) is not None:
            error = {
                "message": self.error,
                "type": "server_error" if status >= 500 else "invalid_request_error",
            }
            return web.json_response({"error": error}, status=status)
        if self.behaviour == "stall":
            await asyncio.sleep(self.delay_s)
        chat = request.path.endswith("chat/completions")
        if self.script is None and not (orjson.loads(body) if body else {}).get("stream"):
            return web.json_response(self._answer(chat))
        return await self._stream(request, self._pieces(chat))

    def _error_status(self) -> int | None:
        if self.behaviour == "status":
            return self.status if self.status != 200 else 500
        return self.status if self.status != 200 else None

    def _pieces(self, chat: bool) -> list[tuple[float, bytes | None]]:
        """What to send, each after its pause; ``None`` drops the connection."""
        if self.script is not None:
            return list(self.script)
        role, content = _events(chat, self.name, self.model, self.chunks)
        pieces: list[tuple[float, bytes | None]] = [(0.0, role)] if role else []
        for i, event in enumerate(content):
            if self.behaviour == "die_midstream" and i == 2:
                return [*pieces, (0.0, None)]
            pieces.append((self.delay_s if i else self.ttft_s, event))
        return [*pieces, (0.0, DONE)]

    async def _stream(
        self, request: web.Request, pieces: list[tuple[float, bytes | None]]
    ) -> web.StreamResponse:
        response = web.StreamResponse(headers={"content-type": self.content_type, **self.headers})
        await response.prepare(request)
        try:
            for pause, piece in pieces:
                if pause:
                    await asyncio.sleep(pause)
                if piece is None:
                    assert request.transport is not None
                    request.transport.close()
                    return response
                await response.write(piece)
            await response.write_eof()
        except ConnectionResetError:  # the client left
            self.abandoned += 1
            return response
        except asyncio.CancelledError:
            self.abandoned += 1
            raise
        self.completed += 1
        return response

    def _answer(self, chat: bool) -> dict[str, Any]:
        text = f"answer from {self.name}"
        choice: dict[str, Any] = {"index": 0, "finish_reason": "stop"}
        choice.update(
            {"message": {"role": "assistant", "content": text}} if chat else {"text": text}
        )
        return {
            "id": "cmpl-fake",
            "object": "chat.completion" if chat else "text_completion",
            "created": 0,
            "model": self.model,
            "choices": [choice],
            "usage": {"prompt_tokens": 3, "completion_tokens": 3, "total_tokens": 6},
        }


@functools.lru_cache(maxsize=64)
def _events(chat: bool, name: str, model: str, chunks: int) -> tuple[bytes, tuple[bytes, ...]]:
    """(the role-only event, or b"" for completions; the content events), encoded once."""
    role = _chunk(chat, model, None, None) if chat else b""
    last = chunks - 1
    content = tuple(
        _chunk(chat, model, f"{name}-{i} ", "stop" if i == last else None) for i in range(chunks)
    )
    return role, content


def _chunk(chat: bool, model: str, text: str | None, finish: str | None) -> bytes:
    choice: dict[str, Any] = {"index": 0, "finish_reason": finish}
    if chat:
        choice["delta"] = {"role": "assistant"} if text is None else {"content": text}
    else:
        choice["text"] = text
    kind = "chat.completion.chunk" if chat else "text_completion"
    return sse_event(
        {"id": "cmpl-fake", "object": kind, "created": 0, "model": model, "choices": [choice]}
    )


def main(argv: list[str] | None = None) -> None:
    """Serve a paced engine on 127.0.0.1 until interrupted."""
    parser = argparse.ArgumentParser(
        prog="python -m adaptive_router.bench.fake_engine",
        description="A paced fake OpenAI-compatible engine (not a model) on 127.0.0.1.",
    )
    parser.add_argument("--port", type=int, required=True, help="port on 127.0.0.1")
    parser.add_argument("--chunks", type=int, default=16, help="content events per answer")
    parser.add_argument("--gap-ms", type=float, default=5.0, help="pause before each one")
    parser.add_argument("--name", default="tok", help="content events read NAME-0, NAME-1, ...")
    parser.add_argument("--model", default="fake-model", help="the model /v1/models lists")
    args = parser.parse_args(argv)
    gap_s = args.gap_ms / 1e3
    engine = FakeEngine(
        name=args.name, model=args.model, chunks=args.chunks, ttft_s=gap_s, delay_s=gap_s,
        keep_requests=False,
    )  # fmt: skip
    web.run_app(
        engine.app(), host="127.0.0.1", port=args.port, access_log=None, print=None,
        loop=new_loop(),
    )  # fmt: skip


if __name__ == "__main__":
    main()
