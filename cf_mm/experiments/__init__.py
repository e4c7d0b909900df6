"""The experiment runner: declared stages, cached outputs, one report.

An experiment (a paper table, the demo, the control experiment) is a short
file that *declares* its stages -- train N_pre, ClusterFit, extract, probe,
kNN, report -- and how they feed each other (``${rotnet.checkpoint}``); see
:mod:`cf_mm.experiments.spec` for the file format and
:mod:`cf_mm.experiments.runner` for caching and resuming. Run one with::

    python tools/run_experiment.py configs/experiments/demo_fmnist.py

Built-in stage types (:mod:`cf_mm.experiments.stages`): ``train``,
``clusterfit``, ``linear_probe``, ``evaluate`` (Runner), ``extract``,
``cluster``, ``linear_probe_cached``, ``knn``, ``cifar10_subset``,
``fashion_mnist``, ``report``, ``command`` (any program, e.g. a
``tools/*.py`` script).

Writing a new stage type
------------------------
A stage type is a function registered in :data:`STAGES`. Its first argument
is the :class:`~cf_mm.experiments.runner.StageContext` (``ctx.work_dir`` is
the stage's own empty folder; ``ctx.path('x')`` a file in it); every other
argument is a parameter that experiment files set by name (the runner
checks names when the file is loaded: unknown or missing ones are errors).
It returns a JSON-serialisable dict of outputs that later stages reference
as ``${<stage name>.<key>}``; the runner adds ``work_dir``. Conventions:
trained networks return ``checkpoint`` and ``config``; evaluations return
``records``, a results file of :mod:`cf_mm.evaluation.report` records
(``method``, ``target``, ``layer``, ``metric``, ``value`` plus the stage's
``tags``), which the ``report`` stage reads. Write files only below
``ctx.work_dir``; print freely (it goes to the stage's log). Example::

    from cf_mm.experiments import STAGES

    @STAGES.register_module('my_metric')
    def my_metric_stage(ctx, features: str, method: str, target: str,
                        tags: dict = None) -> dict:
        value = ...  # compute from the extracted features
        records = [dict(method=method, target=target, layer='res5',
                        metric='my_metric', value=value, **(tags or {}))]
        save_records(records, ctx.path('records.json'))
        return dict(records=ctx.path('records.json'))

Make the module importable from the experiment file with
``custom_imports = dict(imports=['my_package.my_stages'])``, or import it in
a package that is imported anyway. A stage's outputs are reused while its
type, resolved parameters and upstream runs are unchanged, so a stage must
depend on nothing else (read inputs through parameters, not globals).
"""
from . import stages  # noqa: F401  (registers the built-in stage types)
from .registry import STAGES
from .runner import (ExperimentError, ExperimentRunner, StageContext,
                     run_experiment)
from .spec import Experiment, StageSpec, load_experiment

__all__ = [
    'STAGES', 'ExperimentError', 'ExperimentRunner', 'StageContext',
    'run_experiment', 'Experiment', 'StageSpec', 'load_experiment'
]
