import importlib
import pkgutil
from types import ModuleType

import adaptive_router


def isort_order(names: list[str]) -> list[str]:
    """The order ruff (RUF022) keeps __all__ in: CONSTANTS, then Classes, then functions."""
    return sorted(names, key=lambda n: (not n.isupper(), not n[:1].isupper(), n))


def test_all_is_sorted_and_importable() -> None:
    names = adaptive_router.__all__
    assert names == isort_order(names)
    for name in names:
        assert hasattr(adaptive_router, name), name


def test_all_is_complete() -> None:
    """Every public name the package root defines or imports is in __all__ (sub-modules,
    which importing them binds there, aside): nothing public is left out of it by mistake."""
    public = {
        name
        for name, value in vars(adaptive_router).items()
        if not name.startswith("_") and not isinstance(value, ModuleType)
    }
    public.discard("annotations")  # ``from __future__ import annotations``, if it is used
    assert public == set(adaptive_router.__all__)


def test_seed_api_is_exported() -> None:
    for name in ("AdaptiveRouter", "ComplexityScorer", "Decision", "RoutingConfig", "VRAMMonitor"):
        assert name in adaptive_router.__all__


def test_subpackage_exports_are_sorted_and_reachable() -> None:
    """Every sub-package re-exports a sorted __all__ of names that exist."""
    for info in pkgutil.walk_packages(adaptive_router.__path__, "adaptive_router."):
        if not info.ispkg:
            continue
        module = importlib.import_module(info.name)
        exported = getattr(module, "__all__", None)
        assert exported is not None, f"{info.name} has no __all__"
        assert exported == isort_order(exported), info.name
        for name in exported:
            assert hasattr(module, name), f"{info.name}.{name}"
