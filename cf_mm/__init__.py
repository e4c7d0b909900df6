"""cf_mm: ClusterFit and companion methods as an mmpretrain extension.

Importing this package registers every component (datasets, transforms,
models, hooks, metrics) into mmpretrain's registries, so configs reach them
with ``custom_imports=dict(imports=['cf_mm'])`` and ``default_scope='mmpretrain'``.
"""
from . import compat  # noqa: F401  (allow-lists mmengine checkpoint types for torch.load)
from . import datasets, engine, evaluation, models  # noqa: F401

__version__ = '0.1.0'
