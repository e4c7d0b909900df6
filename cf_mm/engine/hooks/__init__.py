"""Registered hooks."""
from .checkpoint_hook import CheckpointHook
from .clusterfit_hook import ClusterFitHook
from .epoch_seed_hook import EpochSeedHook
from .feature_metrics_hook import FeatureMetricsHook

__all__ = ['CheckpointHook', 'ClusterFitHook', 'EpochSeedHook',
           'FeatureMetricsHook']
