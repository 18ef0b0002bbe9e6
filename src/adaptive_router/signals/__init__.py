"""Live inputs to routing, each published as an immutable snapshot off the request path."""

from adaptive_router.signals.engine import EngineMonitor, TierLoad, UpstreamLoad, summarise
from adaptive_router.signals.engine_parse import EngineLoad, detect_engine, parse_metrics
from adaptive_router.signals.facts import EngineFacts
from adaptive_router.signals.latency import LatencyTracker, TierLatency
from adaptive_router.signals.vram import GPUReading, VRAMMonitor, VRAMSnapshot

__all__ = [
    "EngineFacts",
    "EngineLoad",
    "EngineMonitor",
    "GPUReading",
    "LatencyTracker",
    "TierLatency",
    "TierLoad",
    "UpstreamLoad",
    "VRAMMonitor",
    "VRAMSnapshot",
    "detect_engine",
    "parse_metrics",
    "summarise",
]
