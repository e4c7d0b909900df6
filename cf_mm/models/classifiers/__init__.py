"""Registered classifiers; see the modules of this package."""
from .distillation import DistillationClassifier  # noqa: F401
