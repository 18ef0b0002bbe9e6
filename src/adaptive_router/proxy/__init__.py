"""The OpenAI-compatible proxy: an ASGI app, its settings and its launcher."""

from adaptive_router.proxy.app import ProxyApp, create_app
from adaptive_router.proxy.config import ProxyConfig, Settings, TierConfig, load_settings

__all__ = ["ProxyApp", "ProxyConfig", "Settings", "TierConfig", "create_app", "load_settings"]
