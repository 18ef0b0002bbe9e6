import importlib.util
import logging
import threading
import time

import pytest

from adaptive_router import VRAMMonitor
from tests.conftest import Clock, FakeNVML


def test_poll_reports_memory_and_utilisation(fake_nvml: FakeNVML, clock: Clock) -> None:
    fake_nvml.gpus = {0: (10.0, 16.0, 30.0), 1: (2.5, 24.0, 95.0)}
    monitor = VRAMMonitor(0.015, nvml=fake_nvml, clock=clock)
    snap = monitor.poll()
    assert snap.available
    assert snap.taken_at == clock.now
    assert [g.index for g in snap.gpus] == [0, 1]
    assert snap.gpus[1].free_gb == pytest.approx(2.5)
    assert snap.gpus[1].used_gb == pytest.approx(21.5)
    assert snap.gpus[1].total_gb == pytest.approx(24.0)
    assert snap.min_free_gb == pytest.approx(2.5)
    assert snap.max_util_pct == pytest.approx(95.0)
    assert monitor.snapshot() is snap


def test_watches_only_the_configured_gpus(fake_nvml: FakeNVML) -> None:
    fake_nvml.gpus = {0: (10.0, 16.0, 30.0), 1: (2.5, 24.0, 95.0)}
    snap = VRAMMonitor(0.015, gpu_indices=[0], nvml=fake_nvml).poll()
    assert [g.index for g in snap.gpus] == [0]
    assert snap.min_free_gb == pytest.approx(10.0)


def test_missing_gpu_index_is_reported_not_invented(fake_nvml: FakeNVML) -> None:
    snap = VRAMMonitor(0.015, gpu_indices=[3], nvml=fake_nvml).poll()
    assert not snap.available
    assert snap.min_free_gb is None
    assert snap.error is not None
    assert "NVML reports 1 GPU" in snap.error


def test_without_a_driver_it_reports_unavailable_and_warns_once(
    fake_nvml: FakeNVML, caplog: pytest.LogCaptureFixture
) -> None:
    fake_nvml.fail_init = True
    monitor = VRAMMonitor(0.001, nvml=fake_nvml)
    with caplog.at_level(logging.WARNING, logger="adaptive_router.signals.vram"):
        monitor.start()
        monitor._thread.join(timeout=5)  # type: ignore[union-attr]  # gives up: NVML is broken
        monitor.poll()
    assert not monitor.snapshot().available
    assert monitor.snapshot().min_free_gb is None
    assert monitor.snapshot().max_util_pct is None
    assert "Driver Not Loaded" in (monitor.snapshot().error or "")
    assert len(caplog.records) == 1
    monitor.close()


@pytest.mark.skipif(
    importlib.util.find_spec("pynvml") is not None, reason="nvidia-ml-py is installed here"
)
def test_without_nvidia_ml_py_it_says_how_to_install_it() -> None:
    snap = VRAMMonitor(0.015).poll()
    assert not snap.available
    assert "pip install" in (snap.error or "")


def test_a_lost_gpu_makes_readings_unavailable_until_it_returns(fake_nvml: FakeNVML) -> None:
    monitor = VRAMMonitor(0.015, nvml=fake_nvml)
    assert monitor.poll().available
    fake_nvml.fail_reads = True
    lost = monitor.poll()
    assert not lost.available
    assert lost.min_free_gb is None
    fake_nvml.fail_reads = False
    assert monitor.poll().available
    assert fake_nvml.init_calls == 1  # NVML is initialised once, not per poll


def test_thread_polls_and_stops_on_close(fake_nvml: FakeNVML) -> None:
    with VRAMMonitor(0.001, nvml=fake_nvml) as monitor:
        deadline = time.monotonic() + 5
        while not monitor.snapshot().available and time.monotonic() < deadline:
            time.sleep(0.005)
        fake_nvml.gpus[0] = (0.5, 16.0, 99.0)
        while monitor.snapshot().min_free_gb != pytest.approx(0.5) and time.monotonic() < deadline:
            time.sleep(0.005)
        assert monitor.snapshot().min_free_gb == pytest.approx(0.5)
        thread = monitor._thread
    assert thread is not None
    assert not thread.is_alive()
    assert fake_nvml.shutdown_calls == 1
    assert "stratum-vram-monitor" not in {t.name for t in threading.enumerate()}


def test_interval_zero_disables_monitoring(fake_nvml: FakeNVML) -> None:
    with VRAMMonitor(0, nvml=fake_nvml) as monitor:
        assert monitor._thread is None
        assert not monitor.snapshot().available
        assert monitor.snapshot().error == "GPU monitoring disabled"
    assert fake_nvml.init_calls == 0


@pytest.mark.gpu
def test_real_nvml_reads_a_real_gpu() -> None:
    pynvml = pytest.importorskip("pynvml")
    try:
        pynvml.nvmlInit()
        pynvml.nvmlShutdown()
    except pynvml.NVMLError as exc:
        pytest.skip(f"no NVIDIA GPU here: {exc}")
    snap = VRAMMonitor(0.015).poll()
    assert snap.available, snap.error
    assert snap.gpus
    assert all(0 <= g.free_gb <= g.total_gb for g in snap.gpus)
    assert all(0 <= g.util_pct <= 100 for g in snap.gpus)
