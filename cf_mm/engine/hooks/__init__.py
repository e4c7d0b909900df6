"""Registered hooks."""
from .clusterfit_hook import ClusterFitHook
from .epoch_seed_hook import EpochSeedHook

__all__ = ['ClusterFitHook', 'EpochSeedHook']
