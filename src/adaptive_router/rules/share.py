"""LiveThreshold: the complexity threshold that gives tier_high a target share of requests.

An operator knows "tier_high can take 20% of the traffic" better than which score that is,
and a static threshold drifts as traffic changes. With ``target_high_share`` set, the
threshold is the ``1 - share`` quantile of the last ``share_window`` scores the complexity
rule decided, so about that share of them score at or above it and go to tier_high.

The quantile is exact over a bounded window (a ring of recent scores beside the same scores
sorted; each new score costs one binary search and one small list shift), so it forgets old
traffic at a known rate and needs no clock or random numbers: the same scores in the same
order always give the same thresholds. Until ``MIN_SAMPLES`` scores are in, and while the
target is 0 (off), the static ``complexity_threshold`` holds.

    >>> live = LiveThreshold(target=0.25, window=100, fallback=0.65)
    >>> for i in range(100):
    ...     live.observe(i / 100)
    >>> live.value()
    0.75
"""

from __future__ import annotations

import bisect
import threading
from collections import deque

MIN_SAMPLES = 20


class LiveThreshold:
    """The threshold in force: a window quantile of recent scores, or ``fallback``.

    Thread-safe; :meth:`value` is a plain attribute read.
    """

    def __init__(self, target: float, window: int, fallback: float) -> None:
        if not 0.0 <= target <= 1.0:
            raise ValueError(f"target must be from 0 to 1, got {target!r}")
        if window < 1:
            raise ValueError(f"window must be >= 1, got {window!r}")
        self.target = target
        self.fallback = fallback
        self._window = window
        self._enough = min(MIN_SAMPLES, window)
        self._below = 1.0 - target  # the share of scores under the threshold
        self._recent: deque[float] = deque(maxlen=window)
        self._sorted: list[float] = []
        self._value = fallback
        self._lock = threading.Lock()

    @property
    def live(self) -> bool:
        """True when a target is set (the threshold follows traffic)."""
        return self.target > 0.0

    def value(self) -> float:
        """The threshold in force now."""
        return self._value

    def samples(self) -> int:
        """How many scores the window holds."""
        return len(self._recent)

    def observe(self, score: float) -> None:
        """Add one score the complexity rule decided, and move the threshold."""
        if self.target <= 0.0:
            return
        with self._lock:
            recent, ordered = self._recent, self._sorted
            if len(recent) == self._window:  # the oldest score leaves the window
                del ordered[bisect.bisect_left(ordered, recent[0])]
            recent.append(score)
            bisect.insort(ordered, score)
            n = len(ordered)
            if n >= self._enough:
                index = int(n * self._below + 0.5)
                self._value = ordered[index if index < n else n - 1]
