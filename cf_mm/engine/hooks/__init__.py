"""Registered hooks."""
from .checkpoint_hook import CheckpointHook
from .clusterfit_hook import ClusterFitHook
from .epoch_seed_hook import EpochSeedHook
from .feature_metrics_hook import FeatureMetricsHook
from .pseudo_label_check_hook import PseudoLabelCheckHook

__all__ = ['CheckpointHook', 'ClusterFitHook', 'EpochSeedHook',
           'FeatureMetricsHook', 'PseudoLabelCheckHook']
