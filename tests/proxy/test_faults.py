"""Faults under load: an engine killed with streams in flight, clients leaving mid-stream, a
client reading 1 KB/s. The upstreams are the package's fake engine (adaptive_router.bench.
fake_engine), which can be stopped at a chosen moment and stream on a timetable; a real
model's timing cannot be held still long enough for these to be repeatable.
"""

from __future__ import annotations

import asyncio
import os
import socket

from adaptive_router.bench.fake_engine import DONE, FakeEngine, sse_event
from adaptive_router.proxy.upstream import Upstream
from tests.proxy.asgi import Reply, call
from tests.proxy.conftest import AppFactory
from tests.proxy.test_server_guards import serving

CHAT = "/v1/chat/completions"


def stream(model: str) -> dict[str, object]:
    return {"model": model, "stream": True, "messages": [{"role": "user", "content": "hi"}]}


def last_event(reply: Reply) -> object:
    return reply.events()[-1]


async def test_an_engine_killed_under_load_loses_no_client(
    make_app: AppFactory, low: FakeEngine, high: FakeEngine
) -> None:
    app = await make_app(tier_low_first_byte_timeout_s=30)
    low.chunks, low.delay_s = 200, 0.02  # streams of 4 s, cut after their first byte
    in_flight = [asyncio.create_task(call(app, CHAT, stream("gemma4-lite"))) for _ in range(20)]
    while len(low.seen) < 20:
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.2)  # every stream is past its first byte
    low.behaviour, low.delay_s = "stall", 30.0  # these never see a first byte
    waiting = [asyncio.create_task(call(app, CHAT, stream("gemma4-lite"))) for _ in range(20)]
    while len(low.seen) < 40:
        await asyncio.sleep(0.01)
    await low.stop()  # the engine dies: its sockets close under every request
    after = [asyncio.create_task(call(app, CHAT, stream("gemma4-lite"))) for _ in range(20)]
    async with asyncio.timeout(20):  # no client hangs
        cut, failed_over, refused = (
            await asyncio.gather(*in_flight),
            await asyncio.gather(*waiting),
            await asyncio.gather(*after),
        )
    for reply in cut:
        error = last_event(reply)
        assert isinstance(error, dict), reply.body[-200:]
        assert "tier_low upstream failed mid-answer" in error["error"]["message"]
    for reply in [*failed_over, *refused]:
        assert reply.status == 200
        assert reply.headers["x-stratum-failover"] == "tier_low->tier_high"
        assert last_event(reply) == "[DONE]"
    assert len(high.seen) == 40


async def test_clients_leaving_mid_stream_cancel_the_upstream_and_leak_nothing(
    make_app: AppFactory, low: FakeEngine
) -> None:
    app = await make_app()
    low.chunks, low.delay_s, low.keep_requests = 40, 0.02, False
    await call(app, CHAT, stream("gemma4-lite"))  # warm: the pool and the app's own tasks
    low.completed = 0
    tasks_before = _proxy_tasks()
    replies = await asyncio.gather(
        *(
            call(app, CHAT, stream("gemma4-lite"), disconnect_after_first_chunk=i % 2 == 0)
            for i in range(40)
        )
    )
    assert sum(last_event(r) == "[DONE]" for r in replies) == 20
    async with asyncio.timeout(5):
        while low.abandoned < 20:  # the engine saw each of the 20 connections close
            await asyncio.sleep(0.02)
    assert low.completed == 20
    upstream: Upstream = app.pools["tier_low"].upstreams[0]
    assert upstream.in_flight == 0
    assert _proxy_tasks() <= tasks_before  # none left behind


async def test_a_client_reading_1_kb_a_second_pauses_the_upstream(low: FakeEngine) -> None:
    piece = sse_event({"choices": [{"delta": {"content": "x" * 65_000}}]})
    low.script = [(0.0, piece)] * 1000 + [(0.0, DONE)]  # 65 MB, as fast as it can be sent
    async with serving(low.url) as (_server, url):
        port = int(url.rsplit(":", 1)[1])
        client = socket.socket()
        client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        client.setblocking(False)
        loop = asyncio.get_running_loop()
        await loop.sock_connect(client, ("127.0.0.1", port))
        body = b'{"model":"gemma4-lite","stream":true,"messages":[{"role":"user","content":"hi"}]}'
        head = b"POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-type: application/json"
        await loop.sock_sendall(client, head + b"\r\ncontent-length: %d\r\n\r\n" % len(body) + body)
        rss_before = _rss_mb()
        for _ in range(3):  # 1 KB a second
            assert await loop.sock_recv(client, 1024)
            await asyncio.sleep(1.0)
        assert low.completed == 0  # the upstream is held back, not drained into memory
        assert _rss_mb() - rss_before < 40  # well under the 65 MB it would take to buffer
        received = 0
        async with asyncio.timeout(30):  # now read it all: the stream resumes and ends
            while data := await loop.sock_recv(client, 1 << 20):
                received += len(data)
                if data.endswith(b"data: [DONE]\n\n\r\n0\r\n\r\n"):
                    break
        client.close()
    assert received > 65_000_000
    assert low.completed == 1


def _proxy_tasks() -> int:
    """The tasks alive in this loop, less the fake engine's own (one per open connection)."""
    return sum(
        "RequestHandler" not in getattr(t.get_coro(), "__qualname__", "")
        for t in asyncio.all_tasks()
    )


def _rss_mb() -> float:
    with open(f"/proc/{os.getpid()}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")
