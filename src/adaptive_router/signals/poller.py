"""Poller: the one background-polling mechanism every live signal uses.

A poller takes a reading every ``interval_s`` seconds in a daemon thread and publishes it as
an immutable snapshot by swapping one reference, so readers on the request path never lock
and never wait on the network or the driver. Subclasses implement :meth:`Poller._take` (one
reading, never raising) and may set ``self._broken`` when polling can never work (no NVML):
the thread then stops after publishing that reading.

    >>> class Counter(Poller[int]):
    ...     def __init__(self) -> None:
    ...         super().__init__(0.0, initial=0)
    ...     def _take(self) -> int:
    ...         return self.snapshot() + 1
    >>> counter = Counter()
    >>> counter.poll(), counter.snapshot()
    (1, 1)
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from types import TracebackType
from typing import Generic, Self, TypeVar

logger = logging.getLogger(__name__)

T = TypeVar("T")


class Poller(Generic[T]):
    """Polls in a daemon thread every ``interval_s`` seconds; ``snapshot()`` is the latest.

    ``interval_s == 0`` disables the thread (``poll()`` still takes a reading on demand).
    Use it as a context manager, or call :meth:`start` and :meth:`close`.
    """

    thread_name = "stratum-poller"

    def __init__(
        self,
        interval_s: float,
        *,
        initial: T,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if interval_s < 0:
            raise ValueError(f"interval_s must be >= 0, got {interval_s!r}")
        self.interval_s = interval_s
        self._clock = clock
        self._snapshot = initial
        self._broken = False  # polling can never work: the thread stops
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def snapshot(self) -> T:
        """The latest reading (a plain reference read: no lock, no I/O)."""
        return self._snapshot

    def poll(self) -> T:
        """Take one reading now, publish it and return it."""
        reading = self._take()
        self._snapshot = reading
        return reading

    def start(self) -> None:
        """Start the polling thread (idempotent; does nothing when ``interval_s`` is 0)."""
        if self.interval_s <= 0:
            return
        with self._lock:
            if self._thread is not None:
                return
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name=self.thread_name, daemon=True)
            self._thread.start()

    def close(self) -> None:
        """Stop the thread and wait for its current round. Safe to call twice."""
        self._stop.set()
        with self._lock:
            thread, self._thread = self._thread, None
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=self._join_timeout_s())
        self._release()

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _take(self) -> T:
        raise NotImplementedError

    def _release(self) -> None:
        """Free what polling held (called once the thread has stopped)."""

    def _join_timeout_s(self) -> float:
        return 5.0

    def _run(self) -> None:
        while not self._stop.is_set():
            started = self._clock()
            try:
                self.poll()
            except Exception:  # a bug must not silently end monitoring: log it, keep polling
                logger.exception("%s: poll failed", self.thread_name)
            if self._broken:
                return
            self._stop.wait(max(0.0, self.interval_s - (self._clock() - started)))
