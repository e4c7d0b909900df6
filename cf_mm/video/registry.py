"""Registration of cf_mm's runner-side pieces in mmaction2's registries."""
from mmaction.registry import HOOKS

from cf_mm.engine.hooks import ClusterFitHook


def register_hooks() -> None:
    """Make ``type='ClusterFitHook'`` resolve under
    ``default_scope='mmaction'`` (the same class as in mmpretrain)."""
    if HOOKS.get('ClusterFitHook') is None:
        HOOKS.register_module(name='ClusterFitHook', module=ClusterFitHook)
