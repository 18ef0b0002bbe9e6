"""Live inputs to routing, each published as an immutable snapshot off the request path."""

from adaptive_router.signals.latency import LatencyTracker, TierLatency
from adaptive_router.signals.vram import GPUReading, VRAMMonitor, VRAMSnapshot

__all__ = ["GPUReading", "LatencyTracker", "TierLatency", "VRAMMonitor", "VRAMSnapshot"]
