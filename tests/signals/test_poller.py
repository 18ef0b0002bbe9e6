"""The one polling mechanism under both monitors: publish, keep polling past a bug, stop."""

import logging
import threading
import time

import pytest

from adaptive_router.signals.poller import Poller


class Counting(Poller[int]):
    """Counts its polls; raises on the polls listed in ``fail_on``; breaks after ``break_at``."""

    thread_name = "test-poller"

    def __init__(
        self, interval_s: float, fail_on: frozenset[int] = frozenset(), break_at: int = 0
    ) -> None:
        super().__init__(interval_s, initial=0)
        self.calls = 0
        self.fail_on = fail_on
        self.break_at = break_at
        self.released = 0

    def _take(self) -> int:
        self.calls += 1
        if self.calls in self.fail_on:
            raise RuntimeError(f"bug on poll {self.calls}")
        if self.calls == self.break_at:
            self._broken = True
        return self.calls

    def _release(self) -> None:
        self.released += 1


def wait_for(condition: object, timeout_s: float = 5.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition() and time.monotonic() < deadline:  # type: ignore[operator]
        time.sleep(0.002)


def test_poll_publishes_and_snapshot_reads_the_latest() -> None:
    poller = Counting(0)
    assert poller.snapshot() == 0
    assert poller.poll() == 1
    assert poller.snapshot() == 1


def test_a_failing_poll_is_logged_and_polling_goes_on(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.ERROR), Counting(0.001, fail_on=frozenset({2})) as poller:
        wait_for(lambda: poller.snapshot() >= 4)
    assert poller.snapshot() >= 4
    assert "bug on poll 2" in caplog.text
    assert poller.released == 1


def test_a_broken_source_stops_the_thread() -> None:
    poller = Counting(0.001, break_at=3)
    poller.start()
    thread = poller._thread
    assert thread is not None
    thread.join(timeout=5)
    assert not thread.is_alive()
    assert poller.calls == 3
    assert poller.snapshot() == 3
    poller.close()


def test_zero_interval_starts_no_thread_and_close_is_idempotent() -> None:
    before = threading.active_count()
    poller = Counting(0)
    poller.start()
    assert threading.active_count() == before
    poller.close()
    poller.close()
    assert poller.calls == 0


def test_negative_interval_is_refused() -> None:
    with pytest.raises(ValueError, match="interval_s"):
        Counting(-1)
