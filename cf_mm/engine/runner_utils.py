"""Runner-side checks and glue of ClusterFit: K against the model and the
dataset, the restart of the train dataloader once labels are set, and the
logging of label statistics."""
import os.path as osp
from typing import Sequence

import numpy as np
from mmengine.dataset import InfiniteSampler
from mmengine.dist import is_main_process
from mmengine.logging import print_log
from mmengine.runner.loops import _InfiniteDataloaderIterator
from mmpretrain.utils import get_ori_model

from cf_mm.clustering.label_sets import LabelSet
from cf_mm.clustering.results import label_statistics, read_summary
from .num_clusters import check_num_clusters as check_k_against_model


def check_hook_args(method: str, num_full_iters: int) -> None:
    """The ``ClusterFitHook`` arguments that can be checked at build time
    (N_pre's files are read when training starts: testing or validating an
    N_cf config builds the hook too, and needs no N_pre)."""
    from cf_mm.clustering.baselines import METHODS
    if method not in METHODS:
        raise ValueError(f'ClusterFitHook: unknown method {method!r}; use '
                         f'one of {METHODS}')
    if int(num_full_iters) < 0:
        raise ValueError('ClusterFitHook: num_full_iters must be >= 0, got '
                         f'{num_full_iters}')


def check_pretrained_files(pretrained_config: str,
                           pretrained_checkpoint: str) -> None:
    """N_pre's config and checkpoint (or ``last_checkpoint``) exist."""
    for name, path in (('pretrained_config', pretrained_config),
                       ('pretrained_checkpoint', pretrained_checkpoint)):
        if not osp.isfile(path):
            raise FileNotFoundError(f'ClusterFitHook: {name} not found: '
                                    f'{path}')


def check_num_clusters(model, dataset, label_sets: Sequence[LabelSet],
                       multi_k: bool) -> None:
    """Stop before any work if K cannot work with the model or the dataset.

    Args:
        model: The model being trained.
        dataset (PseudoLabelDataset): The train dataset.
        label_sets (Sequence[LabelSet]): The label sets.
        multi_k (bool): Whether ``num_clusters`` was a list.
    """
    names = [s.task_name for s in label_sets]
    if multi_k and not set(names).issubset(dataset.task_names):
        raise ValueError(
            f'ClusterFitHook: num_clusters={[s.num_clusters for s in label_sets]}'
            f' makes the tasks {names}, but the PseudoLabelDataset has '
            f'task_names={dataset.task_names}; set '
            f'train_dataloader.dataset.task_names={names} (and end its '
            'pipeline with PackMultiTaskInputs)')
    for label_set in label_sets:
        if label_set.task_name is not None:
            dataset._task_index(label_set.task_name)  # raises if unknown
    # The K-against-model check shared with PseudoLabelCheckHook.
    check_k_against_model(
        get_ori_model(model), [(s.task_name, s.num_clusters)
                               for s in label_sets], len(dataset),
        multi_task=multi_k,
        describe=lambda ls: f'ClusterFitHook: num_clusters={ls[1]}',
        other_k=lambda ls, value: f'num_clusters to {value}',
        who='ClusterFitHook: ')


def dataset_class_labels(dataset, method: str):
    """The class labels of the dataset a ``PseudoLabelDataset`` wraps, which
    the baseline ``method`` clusters by (None for ``'kmeans'``).

    Raises:
        ValueError: The wrapped dataset has no labels.
    """
    if method == 'kmeans':
        return None
    labels = dataset.get_original_gt_labels()
    if labels is None or len(labels) != len(dataset):
        raise ValueError(
            f'ClusterFitHook: method={method!r} clusters by the class labels '
            f'of the train dataset, but {type(dataset.dataset).__name__} '
            '(wrapped by PseudoLabelDataset) has no labels (get_gt_labels()); '
            "use method='kmeans' or a labelled dataset")
    return np.asarray(labels)


def restart_train_dataloader(runner) -> None:
    """Make the train dataloader re-read its dataset from the main process.

    Worker processes hold a copy of the dataset taken when they started:
    persistent workers keep it across epochs, and ``IterBasedTrainLoop``
    starts its iterator (and workers prefetch batches) before any
    ``before_train`` hook runs. Shutting the workers down and dropping the
    cached iterators makes the next batch come from workers that see the new
    labels.
    """
    loop = runner.train_loop
    dataloader = loop.dataloader
    iterators = [getattr(dataloader, '_iterator', None)]
    infinite = getattr(loop, 'dataloader_iterator', None)
    if infinite is not None:
        iterators.append(getattr(infinite, '_iterator', None))
    for it in iterators:
        if it is not None and hasattr(it, '_shutdown_workers'):
            it._shutdown_workers()
    dataloader._iterator = None
    sampler = getattr(dataloader, 'sampler', None)
    if isinstance(sampler, InfiniteSampler):
        # InfiniteSampler serves all iterators from one generator made in its
        # __init__; discarding the prefetching iterator closed that generator.
        # A new one restarts the seeded stream, i.e. training starts exactly
        # where it would have without the prefetch.
        sampler.indices = sampler._indices_of_rank()
    if infinite is not None:
        loop.dataloader_iterator = _InfiniteDataloaderIterator(dataloader)


def log_label_statistics(runner, dataset, label_set: LabelSet,
                         labels) -> None:
    """Rank 0: cluster sizes, the k-means objective per iteration and
    NMI/ARI against the wrapped dataset's own labels of one label set, as
    log lines, visualizer scalars ``clusterfit/<task>/...`` and message-hub
    info."""
    if not is_main_process():
        return
    info = label_statistics(read_summary(label_set.out_dir), labels,
                            dataset.get_original_gt_labels())
    stats, prefix = info['stats'], f'clusterfit/{label_set.task}'
    print_log(f'ClusterFit ({label_set.task}): ' + ', '.join(
        f'{k}={v:.4g}' if isinstance(v, float) else f'{k}={v}'
        for k, v in stats.items()), logger='current')
    runner.visualizer.add_scalars(
        {f'{prefix}/{k}': v for k, v in stats.items()
         if isinstance(v, (int, float))}, step=0)
    for key in ('objective', 'full_objective'):
        for step, value in enumerate(info[key], start=1):
            runner.visualizer.add_scalars({f'{prefix}/kmeans_{key}': value},
                                          step=step)
    runner.message_hub.update_info(prefix, stats)
