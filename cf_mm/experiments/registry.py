"""The registry of experiment stage types.

A stage type is a function ``fn(ctx, **params) -> dict`` registered here
under its type name (see :mod:`cf_mm.experiments` for how to write one)::

    from cf_mm.experiments import STAGES

    @STAGES.register_module('my_stage')
    def my_stage(ctx, features: str, k: int = 10) -> dict:
        ...
        return dict(records=ctx.path('records.json'))

Two markers tell the runner how a stage type takes part in an experiment
repeated over seeds (the setting ``seeds``, :mod:`cf_mm.experiments.spec`):

* :func:`trains_network`: the stage trains a network; it is repeated once
  per seed and its ``seed`` parameter (which it must take) receives the
  seed, which it passes to the network's ``randomness.seed``;
* :func:`aggregates_seeds`: the stage collects the results of every seed
  (a report); it is not repeated.
"""
from mmengine.registry import Registry

STAGES = Registry('experiment stage')


def trains_network(fn):
    """Mark a stage type as training a network (repeated per seed, gets
    ``seed``)."""
    fn.trains_network = True
    return fn


def aggregates_seeds(fn):
    """Mark a stage type as collecting every seed's results (not
    repeated)."""
    fn.aggregates_seeds = True
    return fn
