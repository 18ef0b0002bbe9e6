"""How requests are released: closed-loop users, or open-loop Poisson arrivals.

- Closed loop at concurrency ``c``: ``c`` users, each sending its next request as soon as
  its previous answer ended, until ``limit`` requests were sent or ``duration_s`` passed
  (requests in flight then are waited for and counted).
- Open loop at ``rate`` requests/s: request ``i`` is sent at the ``i``-th arrival of a
  Poisson process (exponential gaps, seeded), whatever is still in flight, until ``limit``
  arrivals or ``duration_s``.

Both take ``send`` (one Job in, one RequestRecord out) and ``make_job`` (index -> Job), so
they know nothing of HTTP.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass
from itertools import count
from typing import Any

from adaptive_router.bench.client import Job
from adaptive_router.bench.progress import NoProgress, Progress
from adaptive_router.bench.records import RequestRecord

Send = Callable[[Job], Coroutine[Any, Any, RequestRecord]]
MakeJob = Callable[[int], Job]


@dataclass(frozen=True, slots=True)
class Phase:
    """The records of one phase and its wall time (first send to last answer)."""

    records: list[RequestRecord]
    wall_s: float


def poisson_offsets(rate: float, rng: random.Random) -> Iterator[float]:
    """Arrival times (s from the start) of a Poisson process of ``rate``; the first at 0."""
    if rate <= 0:
        raise ValueError(f"rate must be positive, got {rate}")
    t = 0.0
    while True:
        yield t
        t += rng.expovariate(rate)


async def closed_loop(
    send: Send,
    make_job: MakeJob,
    users: int,
    limit: int | None,
    duration_s: float | None = None,
    progress: Progress | None = None,
) -> Phase:
    """``users`` concurrent users, each waiting for its answer before the next request."""
    indices = count() if limit is None else iter(range(limit))
    bar = progress or NoProgress()
    records: list[RequestRecord] = []
    began = time.perf_counter()
    deadline = began + duration_s if duration_s is not None else None

    async def user() -> None:
        for index in indices:  # shared: each index is taken by exactly one user
            if deadline is not None and time.perf_counter() >= deadline:
                return
            records.append(await send(make_job(index)))
            bar.advance()

    await asyncio.gather(*(user() for _ in range(users)))
    return Phase(records, time.perf_counter() - began)


async def open_loop(
    send: Send,
    make_job: MakeJob,
    rate: float,
    rng: random.Random,
    limit: int | None,
    duration_s: float | None = None,
    progress: Progress | None = None,
) -> Phase:
    """Poisson arrivals at ``rate``/s, each request sent whatever is still in flight."""
    bar = progress or NoProgress()
    loop = asyncio.get_running_loop()
    began_loop, began = loop.time(), time.perf_counter()
    tasks: list[asyncio.Task[RequestRecord]] = []
    for index, offset in enumerate(poisson_offsets(rate, rng)):
        if (limit is not None and index >= limit) or (
            duration_s is not None and offset >= duration_s
        ):
            break
        await asyncio.sleep(max(0.0, began_loop + offset - loop.time()))
        task = asyncio.create_task(send(make_job(index)))
        task.add_done_callback(lambda _t: bar.advance())
        tasks.append(task)
    records = list(await asyncio.gather(*tasks))
    return Phase(records, time.perf_counter() - began)
