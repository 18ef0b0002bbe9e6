"""Routing rules: small callables composed in order, each able to say why it decided."""

from adaptive_router.rules.base import RoutingContext, Rule, Verdict
from adaptive_router.rules.builtin import (
    ComplexityRule,
    GPUUtilRule,
    HealthRule,
    OverrideRule,
    SaturationRule,
    SLARule,
    VRAMRule,
    default_rules,
)

__all__ = [
    "ComplexityRule",
    "GPUUtilRule",
    "HealthRule",
    "OverrideRule",
    "RoutingContext",
    "Rule",
    "SLARule",
    "SaturationRule",
    "VRAMRule",
    "Verdict",
    "default_rules",
]
