"""Distillation losses (framework-free: torch only)."""
from . import similarity_distillation  # noqa: F401
