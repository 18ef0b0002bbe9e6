"""The server over real sockets: idle and slow clients, oversized heads, SIGTERM under load.

The upstreams are the package's fake engine (adaptive_router.bench.fake_engine): these tests
are about the router's own connections, and a paced stream must be long enough to be cut
by a signal on cue, which a real model cannot promise.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from adaptive_router.bench.fake_engine import FakeEngine, free_port
from adaptive_router.proxy import load_settings
from adaptive_router.proxy.server import DrainingServer, make_server
from tests.proxy.asgi import call

CHAT = {"model": "auto", "stream": True, "messages": [{"role": "user", "content": "hi"}]}


@contextlib.asynccontextmanager
async def serving(upstream: str, **overrides: object) -> AsyncIterator[tuple[DrainingServer, str]]:
    """The router in this event loop on a free port: (server, base URL)."""
    flat = {"tier_low_url": upstream, "tier_high_url": upstream, "port": 0, **overrides}
    flat["vram_poll_interval_ms"] = 0
    server = make_server(load_settings(environ={}, overrides=flat), log_level="warning")
    task = asyncio.create_task(server.serve())
    while not server.started:
        assert not task.done(), "the server did not start"
        await asyncio.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield server, f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


async def closed_by_server(reader: asyncio.StreamReader, within_s: float) -> bool:
    with contextlib.suppress(TimeoutError, ConnectionResetError):
        async with asyncio.timeout(within_s):
            while await reader.read(65536):
                pass
            return True
    return False


async def test_silent_clients_are_closed_and_real_ones_still_served(low: FakeEngine) -> None:
    async with serving(low.url, header_timeout_s=1.0) as (_server, url):
        port = int(url.rsplit(":", 1)[1])
        silent = [await asyncio.open_connection("127.0.0.1", port) for _ in range(1000)]
        trickle_reader, trickle = await asyncio.open_connection("127.0.0.1", port)
        trickle.write(b"POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\n")  # and no more
        async with (
            aiohttp.ClientSession() as session,
            session.post(url + "/v1/chat/completions", json=CHAT) as answer,
        ):
            assert answer.status == 200
            assert (await answer.read()).rstrip().endswith(b"data: [DONE]")
        closed = await asyncio.gather(*(closed_by_server(r, 5.0) for r, _ in silent))
        assert all(closed), f"{closed.count(False)} silent connections left open"
        assert await closed_by_server(trickle_reader, 5.0)
        for _, writer in [*silent, (trickle_reader, trickle)]:
            writer.close()
        async with (  # and the server still serves
            aiohttp.ClientSession() as session,
            session.get(url + "/health") as health,
        ):
            assert health.status == 200


async def test_a_body_that_never_finishes_is_cut_off(low: FakeEngine) -> None:
    async with serving(low.url, body_timeout_s=0.5) as (_server, url):
        port = int(url.rsplit(":", 1)[1])
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(
            b"POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-type: application/json"
            b"\r\ncontent-length: 1000\r\n\r\n" + b'{"model": "auto", '
        )  # and the other 982 bytes never come
        assert await closed_by_server(reader, 5.0)
        writer.close()
        async with (
            aiohttp.ClientSession() as session,
            session.post(url + "/v1/chat/completions", json=CHAT) as answer,
        ):
            assert answer.status == 200  # a request that sends its body in time is served
            await answer.read()
    assert len(low.seen) == 1


async def test_an_oversized_request_head_gets_a_431(low: FakeEngine) -> None:
    async with serving(low.url, max_header_kb=4) as (_, url), aiohttp.ClientSession() as session:
        big = {"x-padding": "a" * 5000}
        async with session.post(url + "/v1/chat/completions", json=CHAT, headers=big) as r:
            assert r.status == 431
            error = (await r.json())["error"]
            assert error["code"] == "headers_too_large"
            assert "4,096 bytes" in error["message"]
        many = {f"x-h{i}": "a" * 40 for i in range(200)}
        async with session.get(url + "/health", headers=many) as r:
            assert r.status == 431
        async with session.post(url + "/v1/chat/completions", json=CHAT) as r:
            assert r.status == 200
            await r.read()
    assert len(low.seen) == 1  # the refused ones never reached the upstream


async def test_health_answers_503_while_draining(low: FakeEngine) -> None:
    overrides = {"tier_low_url": low.url, "tier_high_url": low.url}
    server = make_server(load_settings(environ={}, overrides=overrides), log_level="warning")
    gate = server.gate
    try:
        assert (await call(gate, "/health", method="GET")).status == 200
        server.handle_exit(signal.SIGTERM, None)  # what uvicorn's signal handler calls
        assert server.should_exit
        reply = await call(gate, "/health", method="GET")
        assert reply.status == 503
        assert reply.json() == {"status": "draining"}
        assert (await call(gate, "/v1/models", method="GET")).status == 200  # the rest served
    finally:
        await gate.app.shutdown()  # no lifespan ran: stop the router's monitor threads


async def wait_healthy(url: str, process: subprocess.Popen[bytes]) -> None:
    """Until ``url``/health answers 200; fails if the process exits or 30 s pass."""
    deadline = time.monotonic() + 30
    async with aiohttp.ClientSession() as session:
        while True:
            assert process.poll() is None, "the router exited"
            assert time.monotonic() < deadline, "the router did not answer /health"
            with contextlib.suppress(aiohttp.ClientError):
                async with session.get(url + "/health") as health:
                    if health.status == 200:
                        return
            await asyncio.sleep(0.1)


@contextlib.asynccontextmanager
async def router_process(
    upstream: str, log: Path, *flags: str
) -> AsyncIterator[tuple[subprocess.Popen[bytes], str]]:
    """``python -m adaptive_router.middleware`` on a free port in front of ``upstream``, as a
    user starts it: (the process, its base URL), once healthy; killed if still running."""
    port = free_port()
    command = [sys.executable, "-m", "adaptive_router.middleware", "--tier-low-url", upstream,
               "--tier-high-url", upstream, "--port", str(port), "--vram-poll-interval-ms", "0",
               "--log-level", "warning", *flags]  # fmt: skip
    with log.open("wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
    try:
        url = f"http://127.0.0.1:{port}"
        await wait_healthy(url, process)
        yield process, url
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


async def read_stream(session: aiohttp.ClientSession, url: str, started: asyncio.Event) -> bytes:
    """The whole body of a streamed answer, however it ends; ``started`` set at its first
    bytes."""
    body = b""
    async with session.post(url, json=CHAT) as response:
        assert response.status == 200
        with contextlib.suppress(aiohttp.ClientPayloadError):
            while data := await response.content.readany():
                body += data
                started.set()
    return body


async def streams_then_sigterm(
    process: subprocess.Popen[bytes], url: str, count: int
) -> tuple[aiohttp.ClientSession, list[asyncio.Task[bytes]]]:
    """``count`` streams started (each past its first bytes), then SIGTERM to the router."""
    session = aiohttp.ClientSession()
    started = [asyncio.Event() for _ in range(count)]
    streams = [
        asyncio.create_task(read_stream(session, url + "/v1/chat/completions", s)) for s in started
    ]
    await asyncio.gather(*(s.wait() for s in started))
    process.send_signal(signal.SIGTERM)
    return session, streams


async def test_sigterm_drains_every_stream_in_flight_and_refuses_new_ones(
    tmp_path: Path,
) -> None:
    engine = await FakeEngine(name="tok", chunks=40, delay_s=0.05, keep_requests=False).start()
    log = tmp_path / "router.log"
    try:
        async with router_process(engine.url, log, "--drain-timeout-s", "20") as (process, url):
            session, streams = await streams_then_sigterm(process, url, 40)
            async with session:
                await asyncio.sleep(0.5)  # uvicorn notices within 0.1 s and closes its socket
                with pytest.raises(ConnectionRefusedError):
                    await asyncio.open_connection("127.0.0.1", int(url.rsplit(":", 1)[1]))
                bodies = await asyncio.gather(*streams)
            for body in bodies:
                assert body.rstrip().endswith(b"data: [DONE]")
                assert body.count(b'"tok-') == 40  # every content event, none lost
            assert process.wait(30) == 0
    finally:
        await engine.stop()


async def test_streams_still_running_at_the_drain_timeout_end_with_an_error_event(
    tmp_path: Path,
) -> None:
    engine = await FakeEngine(name="tok", chunks=200, delay_s=0.05, keep_requests=False).start()
    log = tmp_path / "router.log"
    try:
        async with router_process(engine.url, log, "--drain-timeout-s", "1") as (process, url):
            session, streams = await streams_then_sigterm(process, url, 3)
            async with session, asyncio.timeout(15):  # 10 s of stream left; the drain is 1 s
                bodies = await asyncio.gather(*streams)
            for body in bodies:
                assert b"data: [DONE]" not in body
                last = body.rstrip().rsplit(b"\n\n", 1)[-1]
                assert b"the router is shutting down" in last, body[-300:]
            assert process.wait(30) == 0
    finally:
        await engine.stop()
