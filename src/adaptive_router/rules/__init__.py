"""Routing rules: small callables composed in order, each able to say why it decided."""

from adaptive_router.rules.base import RoutingContext, Rule, Verdict
from adaptive_router.rules.builtin import (
    ComplexityRule,
    GPUUtilRule,
    OverrideRule,
    SLARule,
    VRAMRule,
    default_rules,
)

__all__ = [
    "ComplexityRule",
    "GPUUtilRule",
    "OverrideRule",
    "RoutingContext",
    "Rule",
    "SLARule",
    "VRAMRule",
    "Verdict",
    "default_rules",
]
