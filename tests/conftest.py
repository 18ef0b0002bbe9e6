"""Shared test helpers: a fake NVML module, a settable clock, a fixed-score scorer, and the
session's real local stack (``stack``, ``llama_server``)."""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import pytest

from adaptive_router import AdaptiveRouter, RoutingConfig, Score, VRAMMonitor
from adaptive_router.errors import EngineError
from adaptive_router.scoring import DIMENSIONS
from adaptive_router.stack import default_model, llama_server_binary
from tests.stack.conftest import RunningStack, shut_down, start_stack, wait_up

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


# -- the real engine ------------------------------------------------------------------------------
# Tests that need llama-server (the `stack` extra) are marked `engine`, those that drive
# chromium `browser`, from the fixtures they ask for; `scripts/quick-test.sh` leaves them out.

ENGINE_FIXTURES = frozenset({"stack", "llama_server"})


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        fixtures = set(getattr(item, "fixturenames", ()))
        if fixtures & ENGINE_FIXTURES:
            item.add_marker(pytest.mark.engine)
        if "browser" in fixtures:
            item.add_marker(pytest.mark.browser)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """Skip an `engine` test where the stack extra is missing (fail in CI instead)."""
    if item.get_closest_marker("engine") is not None and not os.environ.get("CI"):
        missing = engine_missing()
        if missing:
            pytest.skip(f"real-engine tests need the stack extra: {missing}")


@functools.cache
def engine_missing() -> str:
    """Why the embedded engine cannot run here, or "" when it can."""
    try:
        default_model()
        llama_server_binary()
    except EngineError as exc:
        return str(exc)
    return ""


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    """The local stack (`stratum up`: a llama-server on Gemma 3 270M per tier, and the router),
    started once per test session for every test that asks for it. Tests that need a stack
    of their own (tests/stack/test_stack_e2e.py: `stratum down`, a model that fails to load,
    a port in use) start it with tests.stack.conftest.start_stack."""
    running = start_stack(tmp_path_factory.mktemp("stack"))
    try:
        wait_up(running)
        yield running
    finally:
        shut_down(running)


@pytest.fixture(scope="session")
def llama_server(stack: RunningStack) -> str:
    """A real llama-server's base URL (.../v1): tier_low's engine of the session's stack
    (-np 4, ctx 4096, the gemma chat template)."""
    return next(part.url for part in stack.state().parts if part.name == "tier_low")
