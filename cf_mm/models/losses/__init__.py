"""Registered losses; the pure functions live in :mod:`.functional`."""
from .distillation import DistillationLoss  # noqa: F401
