"""The label sets one ClusterFit run makes (framework-free).

One K gives one label set; a list of K (the K sweep of Table 7) one label set
per K, each a task of a multi-task ``PseudoLabelDataset`` with its own
folder ``work_dir/clusterfit/<task>``. Task names become folder names, so
they are checked here: a name like ``'../../x'`` would write labels outside
``work_dir/clusterfit``.
"""
import re
from dataclasses import dataclass
from typing import List, Optional, Sequence, Union

import numpy as np

# A task name is one path component: no separators, no '.' / '..'.
TASK_NAME_PATTERN = re.compile(r'[A-Za-z0-9_][A-Za-z0-9_.-]*')
TASK_NAME_RULE = ('letters, digits, "_", "-" and "." only, not starting '
                  'with "." or "-"')


@dataclass
class LabelSet:
    """One label set of a ClusterFit run.

    Attributes:
        task_name (str | None): Task of the PseudoLabelDataset (None: the
            single label set).
        num_clusters (int): Its K.
        out_dir (str): ``work_dir/clusterfit/<task>``, set before use.
    """
    task_name: Optional[str]
    num_clusters: int
    out_dir: str = ''

    @property
    def task(self) -> str:
        """Name of this label set in file paths and scalar names."""
        return self.task_name or 'default'


def check_task_name(name: Optional[str], what: str = 'task_name') -> None:
    """Raise ``ValueError`` unless ``name`` is None or a safe folder name.

    Args:
        name (str, optional): The task name.
        what (str): The setting that gave it, for the message.
    """
    if name is None:
        return
    if not isinstance(name, str) or not TASK_NAME_PATTERN.fullmatch(name):
        raise ValueError(
            f'ClusterFitHook: {what}={name!r} is not a valid task name: it '
            f'names the folder work_dir/clusterfit/<task>, so use '
            f'{TASK_NAME_RULE}')


def make_label_sets(num_clusters: Union[int, Sequence[int]],
                    task_name: Optional[str] = None,
                    task_names: Optional[Sequence[str]] = None
                    ) -> List[LabelSet]:
    """The label sets of ``ClusterFitHook(num_clusters, task_name,
    task_names)``: one for an int K, one per K (task ``k<K>`` unless
    ``task_names`` says otherwise) for a list.

    Args:
        num_clusters (int | Sequence[int]): K, or one K per label set.
        task_name (str, optional): Task of the single label set.
        task_names (Sequence[str], optional): One task per K of a list.

    Returns:
        list[LabelSet]: The label sets, in order.

    Raises:
        ValueError: A K below 2, an empty or repeated list, ``task_names``
            that do not match the list, ``task_name`` with a list, or a
            task name that is not a safe folder name.
    """
    if isinstance(num_clusters, (int, np.integer)):
        if task_names is not None:
            raise ValueError(
                'ClusterFitHook: task_names needs num_clusters to be a list '
                f'(one K per task), got num_clusters={num_clusters}; for one '
                'label set use task_name')
        ks, names = [int(num_clusters)], [task_name]
    else:
        ks = [int(k) for k in num_clusters]
        if task_name is not None:
            raise ValueError(
                f'ClusterFitHook: num_clusters={ks} is a list, which makes '
                'one task per K: name them with task_names, not task_name')
        names = list(task_names) if task_names is not None else [
            f'k{k}' for k in ks]
        if not ks or len(names) != len(ks) or len(set(names)) != len(ks):
            raise ValueError(
                f'ClusterFitHook: num_clusters={ks} needs one distinct task '
                f'name per K, got task_names={names}')
    for k in ks:
        if k < 2:
            raise ValueError('ClusterFitHook: num_clusters must be >= 2, got '
                             f'{k}')
    for name in names:
        check_task_name(name, 'task_name' if task_names is None else
                        'task_names entry')
    return [LabelSet(name, k) for name, k in zip(names, ks)]


def cluster_label_set(features, label_set: LabelSet, method: str,
                      settings: dict, class_labels=None,
                      meta: Optional[dict] = None, logger=None,
                      allow_degenerate: bool = False) -> np.ndarray:
    """Cluster one label set and save it to ``label_set.out_dir``.

    Args:
        features (FeatureStore | np.ndarray): The features (a store is
            loaded into memory for the baselines).
        label_set (LabelSet): The label set (K, output folder).
        method (str): ``'kmeans'``, ``'prototype'`` or ``'per_label'``.
        settings (dict): Options of :func:`cf_mm.clustering.kmeans`.
        class_labels (np.ndarray, optional): Labels of the baselines.
        meta (dict, optional): Kept in ``summary.json`` (the fingerprint).
        logger (logging.Logger, optional): Progress of k-means.
        allow_degenerate (bool): Save a degenerate clustering instead of
            raising :class:`~cf_mm.clustering.results.DegenerateClustering`.

    Returns:
        np.ndarray: ``(N,)`` int64 labels.
    """
    from .baselines import cluster
    from .results import check_not_degenerate, save_cluster_result
    if logger is not None:
        dim = getattr(features, 'dim', None) or features.shape[1]
        logger.info(f'ClusterFit: {method} K={label_set.num_clusters} on '
                    f'{len(features)} x {dim} features (' +
                    ', '.join(f'{k}={v}' for k, v in settings.items()) + ')')
    if method == 'kmeans':
        result = cluster(features, method, label_set.num_clusters,
                         verbose=logger is not None, logger=logger,
                         **settings)
    else:
        if not isinstance(features, np.ndarray):
            features = features.load()
        result = cluster(features, method, label_set.num_clusters,
                         class_labels, **settings)
    if not allow_degenerate:
        check_not_degenerate(result.stats, f'ClusterFit ({label_set.task})',
                             'allow_degenerate=True in ClusterFitHook')
    save_cluster_result(label_set.out_dir, result, meta=meta)
    return result.labels


def cluster_label_sets(store, num_samples: int, label_sets: List[LabelSet],
                       todo: List[int], fingerprints: List[dict],
                       method: str, settings: dict, class_labels=None,
                       logger=None, allow_degenerate: bool = False,
                       check=None) -> dict:
    """Cluster the label sets ``todo`` from one store (once per K of a K
    sweep), each saved with its fingerprint (:func:`cluster_label_set`).

    Args:
        store (FeatureStore): The features; must hold exactly
            ``num_samples`` rows (ids ``0 .. N-1``).
        num_samples (int): The dataset size.
        label_sets (list[LabelSet]): Every label set of the run.
        todo (list[int]): Indices of those to make.
        fingerprints (list[dict]): One per label set, kept in its summary.
        method, settings, class_labels, logger, allow_degenerate: As
            :func:`cluster_label_set`.
        check (callable, optional): ``check(i, labels)`` of each label set
            just made (e.g. against a resumed checkpoint); raises to stop.

    Returns:
        dict: index -> ``(N,)`` labels.
    """
    from cf_mm.features.store import check_store_covers
    check_store_covers(store, num_samples, 'the train dataset')
    made = {}
    for i in todo:
        made[i] = cluster_label_set(
            store, label_sets[i], method, settings, class_labels,
            meta=dict(fingerprint=fingerprints[i]), logger=logger,
            allow_degenerate=allow_degenerate)
        if check is not None:
            check(i, made[i])
    return made
