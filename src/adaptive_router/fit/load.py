"""Open what the user named: a GGUF file, a ``config.json``, or a model folder; and the GPU.

>>> shape = load_model(Path("model.gguf"))  # doctest: +SKIP
>>> gpu, why = nvml_gpu()  # no NVIDIA driver here: (None, 'NVML unavailable: ...')
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from adaptive_router.errors import DataFileError
from adaptive_router.fit.fitting import Gpu
from adaptive_router.fit.gguf_model import is_gguf, read_gguf
from adaptive_router.fit.hf_model import read_config
from adaptive_router.fit.memory import GiB
from adaptive_router.fit.shape import ModelShape

if TYPE_CHECKING:
    from adaptive_router.signals.vram import VRAMSnapshot


def load_model(path: Path, quant: str | None = None) -> ModelShape:
    """The shape of the model at ``path``; ``quant`` sizes a config.json's weights in a format."""
    if not path.exists():
        raise DataFileError(str(path), None, "no such file or folder")
    if path.is_dir():
        return read_config(path, quant)
    try:
        gguf = is_gguf(path)
    except OSError as exc:
        raise DataFileError(str(path), None, f"cannot be read: {exc.strerror}") from None
    if gguf:
        if quant is not None:
            raise DataFileError(
                str(path), None, "--quant sizes config.json models; a GGUF is sized by its tensors"
            )
        return read_gguf(path)
    return read_config(path, quant)


def nvml_snapshot(indices: tuple[int, ...] = (), nvml: Any = None) -> VRAMSnapshot:
    """One NVML reading through the router's own GPU monitor (its log line left out: a
    one-shot command reports NVML's absence itself)."""
    from adaptive_router.signals.vram import VRAMMonitor

    monitor = VRAMMonitor(0, indices, nvml=nvml)
    log = logging.getLogger(VRAMMonitor.__module__)
    level = log.level
    log.setLevel(logging.ERROR)
    try:
        return monitor.poll()
    finally:
        log.setLevel(level)
        monitor.close()


def nvml_gpu(index: int = 0, nvml: Any = None) -> tuple[Gpu | None, str]:
    """GPU ``index`` as NVML sees it now, or None and the reason it cannot be read."""
    return nvml_gpus((index,), nvml)


def nvml_gpus(indices: tuple[int, ...] = (), nvml: Any = None) -> tuple[Gpu | None, str]:
    """The GPUs ``indices`` (empty: every one NVML reports) as one, or None and the reason
    they cannot be read (llama-server spreads its layers over all of them)."""
    snapshot = nvml_snapshot(indices, nvml)
    if not snapshot.available or not snapshot.gpus:
        return None, snapshot.error or "NVML reported no GPU"
    total = sum(g.total_gb for g in snapshot.gpus)
    free = sum(g.free_gb for g in snapshot.gpus)
    names = ", ".join(str(g.index) for g in snapshot.gpus)
    return Gpu(round(total * GiB), round(free * GiB), f"NVML, GPU {names}"), ""


def given_gpu(gb: float) -> Gpu:
    """A GPU of ``gb`` GiB, all of it free (``--gpu-gb``)."""
    return Gpu(round(gb * GiB), round(gb * GiB), f"--gpu-gb {gb:g}")
