"""Benchmarks: probes, kNN, SVM, cluster alignment, feature metrics, reporting."""
from .metrics import MultiLayerAccuracy  # noqa: F401
