"""VRAMMonitor: free GPU memory and utilisation from NVML, polled off the request path.

A :class:`~adaptive_router.signals.poller.Poller` reads NVML (the ``pynvml`` module of
nvidia-ml-py) every ``interval_s`` and publishes an immutable :class:`VRAMSnapshot` by
swapping one reference, so readers never lock. Without NVML or a GPU the snapshot says
``available=False`` and carries the reason; the monitor never makes a number up.
"""

from __future__ import annotations

import importlib
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from adaptive_router.signals.poller import Poller

logger = logging.getLogger(__name__)

_GB = 1024**3


@dataclass(frozen=True, slots=True)
class GPUReading:
    """One GPU at one moment: memory in GB (2**30 bytes) and utilisation in percent."""

    index: int
    total_gb: float
    used_gb: float
    free_gb: float
    util_pct: float


@dataclass(frozen=True, slots=True)
class VRAMSnapshot:
    """What the monitor last saw. ``taken_at`` is on the monitor's monotonic clock."""

    available: bool
    gpus: tuple[GPUReading, ...] = ()
    taken_at: float = 0.0
    error: str | None = None

    @property
    def min_free_gb(self) -> float | None:
        """The least free memory over the watched GPUs, or None when unknown."""
        return min((g.free_gb for g in self.gpus), default=None) if self.available else None

    @property
    def max_util_pct(self) -> float | None:
        """The highest utilisation over the watched GPUs, or None when unknown."""
        return max((g.util_pct for g in self.gpus), default=None) if self.available else None


class VRAMMonitor(Poller[VRAMSnapshot]):
    """Polls NVML every ``interval_s`` seconds; ``snapshot()`` is always the latest reading.

        >>> with VRAMMonitor(interval_s=0.015) as monitor:  # doctest: +SKIP
        ...     monitor.snapshot().min_free_gb
        10.5

    ``nvml`` replaces the ``pynvml`` module (tests inject a fake); ``clock`` stamps readings.
    """

    thread_name = "stratum-vram-monitor"

    def __init__(
        self,
        interval_s: float = 0.015,
        gpu_indices: Sequence[int] = (),
        *,
        nvml: Any = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        disabled = VRAMSnapshot(available=False, error="GPU monitoring disabled")
        initial = VRAMSnapshot(available=False, error="not polled yet")
        super().__init__(interval_s, initial=initial if interval_s > 0 else disabled, clock=clock)
        self.gpu_indices = tuple(gpu_indices)
        self._nvml = nvml
        self._handles: list[tuple[int, Any]] | None = None

    def _take(self) -> VRAMSnapshot:
        try:
            handles = self._open()
            gpus = tuple(self._read(index, handle) for index, handle in handles)
            snapshot = VRAMSnapshot(available=True, gpus=gpus, taken_at=self._clock())
        except Exception as exc:  # NVML raises its own NVMLError tree; any failure = unknown
            snapshot = VRAMSnapshot(available=False, taken_at=self._clock(), error=str(exc))
        previous = self.snapshot()
        if snapshot.available != previous.available or (
            snapshot.error and snapshot.error != previous.error
        ):
            self._log_transition(snapshot)
        return snapshot

    def _release(self) -> None:
        if self._handles is not None and self._nvml is not None:
            try:
                self._nvml.nvmlShutdown()
            except Exception:  # shutting down: nothing useful to do with an error
                logger.debug("nvmlShutdown failed", exc_info=True)
            self._handles = None

    def _open(self) -> list[tuple[int, Any]]:
        if self._handles is not None:
            return self._handles
        if self._nvml is None:
            try:
                self._nvml = importlib.import_module("pynvml")
            except ImportError:
                self._broken = True
                raise RuntimeError(
                    "NVML unavailable: nvidia-ml-py is not installed "
                    "(pip install 'stratum-router[gpu]')"
                ) from None
        nvml = self._nvml
        try:
            nvml.nvmlInit()
            count = int(nvml.nvmlDeviceGetCount())
        except Exception as exc:
            self._broken = True
            raise RuntimeError(f"NVML unavailable: {exc}") from exc
        indices = self.gpu_indices or tuple(range(count))
        missing = [i for i in indices if i >= count]
        if missing or not indices:
            self._broken = True
            raise RuntimeError(f"GPU index {missing or 0} not found: NVML reports {count} GPU(s)")
        self._handles = [(i, nvml.nvmlDeviceGetHandleByIndex(i)) for i in indices]
        return self._handles

    def _read(self, index: int, handle: Any) -> GPUReading:
        memory = self._nvml.nvmlDeviceGetMemoryInfo(handle)
        util = self._nvml.nvmlDeviceGetUtilizationRates(handle)
        return GPUReading(
            index=index,
            total_gb=memory.total / _GB,
            used_gb=memory.used / _GB,
            free_gb=memory.free / _GB,
            util_pct=float(util.gpu),
        )

    def _log_transition(self, snapshot: VRAMSnapshot) -> None:
        if snapshot.available:
            logger.info("GPU monitor: reading %d GPU(s)", len(snapshot.gpus))
        else:
            logger.warning("GPU monitor: %s; the VRAM and GPU-util rules abstain", snapshot.error)
