"""``stratum fit``: what a model needs in GPU memory, checked against the engines' own numbers.

>>> from adaptive_router.fit import FitOptions, fit, load_model
>>> shape = load_model(Path("gemma-3-270m-q4_k_m.gguf"))  # doctest: +SKIP
>>> report = fit(shape, FitOptions(ctx=4096, parallel=4), gpu=None)  # doctest: +SKIP
>>> report.estimate.kv.total_bytes  # doctest: +SKIP
75497472
"""

from adaptive_router.fit.fitting import FitReport, Gpu, PagedCapacity, fit
from adaptive_router.fit.load import given_gpu, load_model, nvml_gpu
from adaptive_router.fit.memory import Estimate, FitOptions, KVCache, estimate
from adaptive_router.fit.shape import LayerKV, ModelShape

__all__ = [
    "Estimate",
    "FitOptions",
    "FitReport",
    "Gpu",
    "KVCache",
    "LayerKV",
    "ModelShape",
    "PagedCapacity",
    "estimate",
    "fit",
    "given_gpu",
    "load_model",
    "nvml_gpu",
]
