"""Routing rules: small callables composed in order, each able to say why it decided."""

from adaptive_router.rules.base import Needs, RoutingContext, Rule, TierFacts, Verdict
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
from adaptive_router.rules.fit import CapabilityRule, ContextRule
from adaptive_router.rules.session import SessionRule
from adaptive_router.rules.share import LiveThreshold

__all__ = [
    "CapabilityRule",
    "ComplexityRule",
    "ContextRule",
    "GPUUtilRule",
    "HealthRule",
    "LiveThreshold",
    "Needs",
    "OverrideRule",
    "RoutingContext",
    "Rule",
    "SLARule",
    "SaturationRule",
    "SessionRule",
    "TierFacts",
    "VRAMRule",
    "Verdict",
    "default_rules",
]
