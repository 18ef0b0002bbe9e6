"""A scriptable OpenAI-compatible upstream on loopback, for protocol edge cases.

A real llama-server cannot be told to answer 500, stall before its first byte, or die in
the middle of a stream on demand; this server can. Each test sets ``behaviour``:

- ``"ok"``: answers normally (streamed in ``chunks`` SSE events ``delay_s`` apart);
- ``"status"``: answers ``status`` with an error body;
- ``"stall"``: sends nothing for ``delay_s`` seconds before answering normally;
- ``"stall_midstream"``: sends one chunk, then nothing for ``delay_s`` seconds;
- ``"die_midstream"``: sends two chunks, then drops the connection.

It records every request (path, headers, raw body) and counts streams the client abandoned.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.loopback import LoopbackServer


@dataclass
class Seen:
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class FakeUpstream(LoopbackServer):
    name: str = "fake"
    behaviour: str = "ok"
    status: int = 500
    chunks: int = 4
    delay_s: float = 0.0
    model_id: str = "fake-model"
    seen: list[Seen] = field(default_factory=list)
    abandoned: int = 0
    completed: int = 0

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/v1/chat/completions", self._complete)
        app.router.add_post("/v1/completions", self._complete)
        app.router.add_get("/v1/models", self._models)

    async def _models(self, request: web.Request) -> web.Response:
        return web.json_response({"object": "list", "data": [{"id": self.model_id}]})

    async def _complete(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        self.seen.append(
            Seen(request.path, {k.lower(): v for k, v in request.headers.items()}, body)
        )
        payload = json.loads(body)
        if self.behaviour == "status":
            return web.json_response({"error": {"message": "upstream broke"}}, status=self.status)
        if self.behaviour == "stall":
            await asyncio.sleep(self.delay_s)
        chat = request.path.endswith("chat/completions")
        if not payload.get("stream"):
            return web.json_response(self._answer(chat))
        return await self._stream(request, chat)

    async def _stream(self, request: web.Request, chat: bool) -> web.StreamResponse:
        response = web.StreamResponse(headers={"content-type": "text/event-stream"})
        await response.prepare(request)
        try:
            if chat:
                await response.write(_event(_chunk(chat, None, role=True)))
            for i in range(self.chunks):
                if self.behaviour == "die_midstream" and i == 2:
                    request.transport.close()  # type: ignore[union-attr]
                    return response
                if (self.behaviour == "stall_midstream" and i == 1) or (self.delay_s and i):
                    await asyncio.sleep(self.delay_s)
                await response.write(_event(_chunk(chat, f"{self.name}-{i} ")))
            await response.write(b"data: [DONE]\n\n")
            await response.write_eof()
            self.completed += 1
        except (ConnectionResetError, asyncio.CancelledError):
            self.abandoned += 1
            raise
        return response

    def _answer(self, chat: bool) -> dict[str, Any]:
        text = f"answer from {self.name}"
        choice: dict[str, Any] = (
            {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}
            if chat
            else {"index": 0, "text": text, "finish_reason": "stop"}
        )
        return {
            "id": "cmpl-1",
            "object": "chat.completion" if chat else "text_completion",
            "created": 0,
            "model": self.model_id,
            "choices": [choice],
            "usage": {"prompt_tokens": 3, "completion_tokens": 3, "total_tokens": 6},
        }


def _chunk(chat: bool, text: str | None, role: bool = False) -> dict[str, Any]:
    if chat:
        delta: dict[str, Any] = {"role": "assistant"} if role else {"content": text}
        choice: dict[str, Any] = {"index": 0, "delta": delta, "finish_reason": None}
        kind = "chat.completion.chunk"
    else:
        choice = {"index": 0, "text": text, "finish_reason": None}
        kind = "text_completion"
    return {"id": "c1", "object": kind, "created": 0, "model": "fake-model", "choices": [choice]}


def _event(data: dict[str, Any]) -> bytes:
    return b"data: " + json.dumps(data).encode() + b"\n\n"
