"""Prompt complexity scoring: six cheap, explainable dimensions, no inference."""

from adaptive_router.scoring.scorer import DIMENSIONS, ComplexityScorer, Score

__all__ = ["DIMENSIONS", "ComplexityScorer", "Score"]
