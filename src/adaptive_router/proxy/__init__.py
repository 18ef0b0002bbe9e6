"""The OpenAI-compatible proxy: an ASGI app, its settings and its launcher.

The names below are imported on first use, so reading the settings (``stratum route``,
``stratum --help``) does not load aiohttp and the app.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from adaptive_router.proxy.app import ProxyApp, create_app
    from adaptive_router.proxy.config import ProxyConfig, Settings, TierConfig, load_settings

_HOMES = {
    "ProxyApp": "app",
    "create_app": "app",
    "ProxyConfig": "config",
    "Settings": "config",
    "TierConfig": "config",
    "load_settings": "config",
}
__all__ = ["ProxyApp", "ProxyConfig", "Settings", "TierConfig", "create_app", "load_settings"]


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(f"{__name__}.{home}"), name)
