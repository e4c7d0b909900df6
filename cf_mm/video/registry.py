"""Registration of cf_mm's runner-side pieces in mmaction2's registries."""
from mmaction.registry import HOOKS

from cf_mm.engine.hooks import CheckpointHook, ClusterFitHook


def register_hooks() -> None:
    """Make ``type='ClusterFitHook'`` (and the crash-safe
    ``CheckpointHook``) resolve under ``default_scope='mmaction'`` (the same
    classes as in mmpretrain)."""
    if HOOKS.get('ClusterFitHook') is None:
        HOOKS.register_module(name='ClusterFitHook', module=ClusterFitHook)
    if HOOKS.get('CheckpointHook') is not CheckpointHook:
        HOOKS.register_module(name='CheckpointHook', module=CheckpointHook,
                              force=True)
