"""A paced OpenAI-compatible upstream for proxy benchmarks: every answer takes the same time.

``POST /v1/chat/completions`` with ``"stream": true`` answers Server-Sent Events in the
``chat.completion.chunk`` format: a role-only delta at once, then ``--chunks`` content deltas
``--gap-ms`` apart, then ``data: [DONE]``. Without ``stream`` it waits the same time and answers
one ``chat.completion``. ``GET /v1/models`` and ``GET /health`` answer at once, so a proxy can
discover the model and poll health as it would with a real engine. It listens on loopback only.

    python benchmarks/_paced_upstream.py --port 8081 [--chunks 16] [--gap-ms 5]

The events are encoded once at start, so the upstream spends its CPU on the network, not JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
from dataclasses import dataclass

from aiohttp import web

MODEL = "paced"


@dataclass(frozen=True)
class Pacing:
    """The answer every request gets, pre-encoded: ``chunks`` pieces ``gap_s`` apart."""

    chunks: int
    gap_s: float

    def event(self, delta: dict[str, str], finish: str | None = None) -> bytes:
        chunk = {
            "id": "chatcmpl-paced",
            "object": "chat.completion.chunk",
            "created": 0,
            "model": MODEL,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        }
        return b"data: " + json.dumps(chunk, separators=(",", ":")).encode() + b"\n\n"

    def stream(self) -> tuple[bytes, list[bytes], bytes]:
        """(first event, content events, closing events)."""
        content = [self.event({"content": f"tok{i} "}) for i in range(self.chunks)]
        closing = self.event({}, finish="stop") + b"data: [DONE]\n\n"
        return self.event({"role": "assistant"}), content, closing

    def completion(self) -> dict[str, object]:
        text = "".join(f"tok{i} " for i in range(self.chunks))
        message = {"role": "assistant", "content": text}
        return {
            "id": "chatcmpl-paced",
            "object": "chat.completion",
            "created": 0,
            "model": MODEL,
            "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 1, "completion_tokens": self.chunks, "total_tokens": 17},
        }


def make_app(pacing: Pacing) -> web.Application:
    """The aiohttp application; see the module docstring for what it answers."""
    first, content, closing = pacing.stream()
    completion = json.dumps(pacing.completion()).encode()
    models = json.dumps({"object": "list", "data": [{"id": MODEL, "object": "model"}]}).encode()

    async def chat(request: web.Request) -> web.StreamResponse:
        body = await request.json()
        if not body.get("stream"):
            await asyncio.sleep(pacing.gap_s * pacing.chunks)
            return web.Response(body=completion, content_type="application/json")
        response = web.StreamResponse(
            headers={"content-type": "text/event-stream", "cache-control": "no-cache"}
        )
        await response.prepare(request)
        with contextlib.suppress(ConnectionResetError):  # the client left: nothing to do
            await response.write(first)
            for event in content:
                await asyncio.sleep(pacing.gap_s)
                await response.write(event)
            await response.write(closing)
            await response.write_eof()
        return response

    async def constant(body: bytes) -> web.Response:
        return web.Response(body=body, content_type="application/json")

    app = web.Application()
    app.router.add_post("/v1/chat/completions", chat)
    app.router.add_get("/v1/models", lambda _: constant(models))
    app.router.add_get("/health", lambda _: constant(b'{"status":"ok"}'))
    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, required=True, help="port on 127.0.0.1")
    parser.add_argument("--chunks", type=int, default=16, help="content events per answer")
    parser.add_argument("--gap-ms", type=float, default=5.0, help="pause before each one")
    args = parser.parse_args()
    app = make_app(Pacing(args.chunks, args.gap_ms / 1e3))
    web.run_app(app, host="127.0.0.1", port=args.port, access_log=None, print=None, loop=new_loop())


def new_loop() -> asyncio.AbstractEventLoop:
    """uvloop's event loop when it is installed, else asyncio's."""
    with contextlib.suppress(ImportError):
        import uvloop

        return uvloop.new_event_loop()
    return asyncio.new_event_loop()


if __name__ == "__main__":
    main()
