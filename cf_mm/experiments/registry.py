"""The registry of experiment stage types.

A stage type is a function ``fn(ctx, **params) -> dict`` registered here
under its type name (see :mod:`cf_mm.experiments` for how to write one)::

    from cf_mm.experiments import STAGES

    @STAGES.register_module('my_stage')
    def my_stage(ctx, features: str, k: int = 10) -> dict:
        ...
        return dict(records=ctx.path('records.json'))
"""
from mmengine.registry import Registry

STAGES = Registry('experiment stage')
