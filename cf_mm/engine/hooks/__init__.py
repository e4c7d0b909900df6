"""Registered hooks."""
from .clusterfit_hook import ClusterFitHook
from .feature_metrics_hook import FeatureMetricsHook

__all__ = ['ClusterFitHook', 'FeatureMetricsHook']
