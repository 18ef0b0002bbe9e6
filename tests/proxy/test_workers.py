"""``stratum serve --workers N``: N router processes on one port, started and stopped as a user
would. The upstream is the package's fake engine (adaptive_router.bench.fake_engine): this
is about the router's processes, not about a model."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from pathlib import Path

import aiohttp

from adaptive_router.bench.fake_engine import FakeEngine
from tests.proxy.test_server_guards import router_process, wait_healthy

BODY = {"model": "auto", "stream": True, "messages": [{"role": "user", "content": "hi"}]}


def children(pid: int) -> list[int]:
    """The worker processes under ``pid`` (not multiprocessing's resource tracker)."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        found += [int(p) for p in task.read_text().split()]
    return [p for p in found if b"resource_tracker" not in _cmdline(p)]


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def connections_to(pid: int, port: int) -> int:
    """How many TCP connections process ``pid`` holds to 127.0.0.1:``port``."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        target = os.readlink(fd) if fd.is_symlink() else ""
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    count = 0
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if fields[2] == f"0100007F:{port:04X}" and fields[9] in inodes:
            count += 1
    return count


async def test_workers_share_the_port_are_replaced_when_they_die_and_stop_on_sigterm(
    tmp_path: Path,
) -> None:
    engine = await FakeEngine(name="tok", chunks=60, delay_s=0.05, keep_requests=False).start()
    engine_port = int(engine.url.split(":")[2].split("/")[0])
    log = tmp_path / "router.log"
    try:
        async with router_process(engine.url, log, "--workers", "2") as (process, url):
            workers = children(process.pid)
            assert len(workers) == 2, workers
            connector = aiohttp.TCPConnector(force_close=True)  # a new connection per request
            async with aiohttp.ClientSession(connector=connector) as session:

                async def stream() -> bytes:
                    async with session.post(url + "/v1/chat/completions", json=BODY) as answer:
                        assert answer.status == 200
                        return await answer.read()

                streams = [asyncio.create_task(stream()) for _ in range(40)]
                # 40 streams of 3 s each: the kernel spreads their connections over both
                # workers, so each relays some at once through upstream connections of its own
                while not all(connections_to(pid, engine_port) > 0 for pid in workers):
                    assert not all(s.done() for s in streams), "a worker relayed no stream"
                    await asyncio.sleep(0.05)
                for body in await asyncio.gather(*streams):
                    assert body.rstrip().endswith(b"data: [DONE]")
            os.kill(workers[0], signal.SIGKILL)
            deadline = time.monotonic() + 30
            while workers[0] in children(process.pid) or len(children(process.pid)) < 2:
                assert time.monotonic() < deadline, "the dead worker was not replaced"
                await asyncio.sleep(0.2)
            await wait_healthy(url, process)
            process.send_signal(signal.SIGTERM)
            assert process.wait(30) == 0
        assert not any(Path(f"/proc/{pid}").exists() for pid in workers[1:])
        banner = log.read_text()
        assert "workers: 2 processes" in banner
        assert "starting another" in banner
    finally:
        await engine.stop()
