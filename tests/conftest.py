"""Shared test helpers: a fake NVML module, a settable clock, a fixed-score scorer."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import pytest

from adaptive_router import AdaptiveRouter, RoutingConfig, Score, VRAMMonitor
from adaptive_router.scoring import DIMENSIONS

GB = 1024**3
SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


class FakeNVML:
    """Stands in for the pynvml module: there is no GPU on the test machines.

    ``gpus`` maps index -> (free_gb, total_gb, util_pct); tests change it between polls.
    ``fail_init`` / ``fail_reads`` make NVML raise as a machine without a driver would.
    """

    class NVMLError(Exception):
        pass

    def __init__(self, gpus: Mapping[int, tuple[float, float, float]]) -> None:
        self.gpus = dict(gpus)
        self.fail_init = False
        self.fail_reads = False
        self.init_calls = 0
        self.shutdown_calls = 0

    def nvmlInit(self) -> None:
        self.init_calls += 1
        if self.fail_init:
            raise self.NVMLError("Driver Not Loaded")

    def nvmlShutdown(self) -> None:
        self.shutdown_calls += 1

    def nvmlDeviceGetCount(self) -> int:
        return len(self.gpus)

    def nvmlDeviceGetHandleByIndex(self, index: int) -> int:
        return index

    def nvmlDeviceGetMemoryInfo(self, handle: int) -> SimpleNamespace:
        if self.fail_reads:
            raise self.NVMLError("GPU is lost")
        free, total, _ = self.gpus[handle]
        return SimpleNamespace(free=free * GB, total=total * GB, used=(total - free) * GB)

    def nvmlDeviceGetUtilizationRates(self, handle: int) -> SimpleNamespace:
        return SimpleNamespace(gpu=self.gpus[handle][2], memory=0)


class Clock:
    """A monotonic clock the test moves by hand."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class FixedScorer:
    """A scorer double whose total the test sets, to test rules apart from scoring."""

    total: float = 0.9

    def score(self, text: str) -> Score:
        return Score(self.total, dict.fromkeys(DIMENSIONS, self.total))


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def fake_nvml() -> FakeNVML:
    return FakeNVML({0: (10.0, 16.0, 30.0)})


@pytest.fixture
def make_router(clock: Clock, fake_nvml: FakeNVML) -> Iterator[Callable[..., AdaptiveRouter]]:
    """Build routers on the fake NVML and clock; every one is closed after the test."""
    routers: list[AdaptiveRouter] = []

    def make(config: RoutingConfig | None = None, **kwargs: object) -> AdaptiveRouter:
        cfg = config or RoutingConfig()
        kwargs.setdefault("monitor", VRAMMonitor(0, cfg.gpu_indices, nvml=fake_nvml, clock=clock))
        router = AdaptiveRouter(cfg, clock=clock, **kwargs)  # type: ignore[arg-type]
        router.refresh()
        routers.append(router)
        return router

    yield make
    for router in routers:
        router.close()


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def llama_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real llama-server on the Gemma 3 270M GGUF; yields its base URL (.../v1)."""
    import os

    from adaptive_router.errors import EngineError
    from adaptive_router.stack import LlamaServer, LlamaServerSpec, default_model

    try:
        model = default_model()
    except EngineError as exc:
        if os.environ.get("CI"):
            raise
        pytest.skip(f"real-engine tests need the stack extra: {exc}")
    log = tmp_path_factory.mktemp("llama") / "llama-server.log"
    server = LlamaServer(LlamaServerSpec(model, free_port(), parallel=4, ctx_size=4096), log)
    server.start()
    try:
        server.wait_ready(120)
        yield server.spec.base_url
    finally:
        server.stop()
