"""PseudoLabelCheckHook: label files checked against N_cf before training.

The offline route (``tools/extract_features.py`` -> ``tools/cluster.py`` ->
``PseudoLabelDataset(label_files=...)``, no ``ClusterFitHook``) gets the
hook's checks of K against the head, the data preprocessor and the dataset
here, through the same function
(:func:`cf_mm.engine.num_clusters.check_num_clusters`). ``tools/train.py``
and :func:`cf_mm.apis.load_config` add this hook to every config whose
train dataset is a ``PseudoLabelDataset`` and which has no
``ClusterFitHook``.
"""
from mmengine.hooks import Hook
from mmengine.runner import BaseLoop
from mmpretrain.registry import HOOKS
from mmpretrain.utils import get_ori_model

from ..num_clusters import check_num_clusters
from .clusterfit_hook import ClusterFitHook, find_pseudo_label_dataset


@HOOKS.register_module()
class PseudoLabelCheckHook(Hook):
    """Stop before the first step if the labels of a ``PseudoLabelDataset``
    cannot train the model.

    Every label set's K (the ``summary.json`` of its label file, the
    dataset's ``num_clusters``, else the largest label + 1) must equal the
    ``num_classes`` of its head (per task with a ``MultiTaskHead``) and, for
    one label set, of the data preprocessor. The error names the label
    file, both values and the fix. With a ``ClusterFitHook`` in the run
    this hook does nothing (that hook checks its own K).
    """

    priority = 'VERY_HIGH'

    def __init__(self):
        self.checked = False

    def before_run(self, runner) -> None:
        # Runner.train() has built its train loop here; val()/test() have
        # none and train nothing.
        if isinstance(getattr(runner, '_train_loop', None), BaseLoop):
            self.check(runner)

    def before_train(self, runner) -> None:
        self.check(runner)

    def check(self, runner) -> None:
        """Compare the K of every label set with the model."""
        if self.checked or any(isinstance(hook, ClusterFitHook)
                               for hook in runner.hooks):
            return
        dataset = find_pseudo_label_dataset(runner.train_dataloader.dataset)
        tasks = dataset.task_names if dataset.multi_task else [None]
        missing = [task for task in tasks if not dataset.has_labels(task)]
        if missing:
            raise ValueError(
                'PseudoLabelDataset: no labels for '
                f'{"tasks " + str(missing) if dataset.multi_task else "it"}'
                ': give train_dataloader.dataset.label_files (labels.npy of '
                'tools/cluster.py) or add ClusterFitHook to custom_hooks')
        sources = dict(zip(tasks, dataset.label_sources))
        check_num_clusters(
            get_ori_model(runner.model),
            [(task, dataset.num_clusters_of(task)) for task in tasks],
            len(dataset), multi_task=dataset.multi_task,
            describe=lambda ls: (f'PseudoLabelDataset: the labels in '
                                 f'{sources[ls[0]]} have K={ls[1]} clusters'),
            other_k=lambda ls, value: ('give labels clustered with '
                                       f'K={value}'),
            who='PseudoLabelDataset: ')
        self.checked = True
