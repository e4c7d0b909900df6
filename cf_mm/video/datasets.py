"""Pseudo-labels for mmaction2 datasets."""
from typing import Optional, Sequence

import numpy as np
import torch
from mmaction.registry import DATASETS

from cf_mm.datasets.pseudo_label import PseudoLabelDataset


@DATASETS.register_module()
class VideoPseudoLabelDataset(PseudoLabelDataset):
    """:class:`~cf_mm.datasets.PseudoLabelDataset` for mmaction2 datasets.

    mmaction2's datasets and ``PackActionInputs`` keep a video's label under
    ``label`` (not mmpretrain's ``gt_label``): the cluster id goes there and
    the dataset's own label (int, list of tags or one-hot) to
    ``ori_label``. One label set only (mmaction2 packs no label dicts).
    :meth:`get_original_gt_labels` gives multi-label datasets' tags as an
    ``(N, C)`` 0/1 matrix, which ``ClusterFitHook(method='per_label')``
    clusters by (paper section 5.2, Figure 6).

    Args:
        dataset (dict | BaseActionDataset): ``VideoDataset``,
            ``RawframeDataset`` ... or its config.
        label_files (str, optional): ``labels.npy`` (or its folder) from
            ``tools/cluster.py``; otherwise ``ClusterFitHook`` sets them.
        num_clusters (int, optional): K.
    """

    def __init__(self, dataset, label_files: Optional[str] = None,
                 num_clusters: Optional[int] = None):
        super().__init__(dataset, task_names=None, label_files=label_files,
                         num_clusters=num_clusters)

    def get_data_info(self, idx: int) -> dict:
        info = super().get_data_info(idx)
        info['ori_label'] = info.pop('label', None)
        info['label'] = info.pop('gt_label')
        return info

    def get_original_gt_labels(self) -> Optional[np.ndarray]:
        """Labels of the wrapped dataset, for NMI/ARI and the label-using
        baselines (``ClusterFitHook(method='per_label' | 'prototype')``).

        Returns:
            np.ndarray | None: ``(N,)`` int64 class ids (single-label);
            ``(N, C)`` int64 0/1 targets for multi-label datasets
            (``multi_class=True``: mmaction2 hands out one-hot vectors of
            ``num_classes``); None when the labels are of neither kind.
            (Unlabelled annotation lines carry mmaction2's class id -1.)
        """
        return label_array([
            self.dataset.get_data_info(idx).get('label')
            for idx in range(len(self.dataset))
        ])


def label_array(labels: Sequence) -> Optional[np.ndarray]:
    """One array from mmaction2's per-video labels.

    Args:
        labels (Sequence): Per video an int class id (or a one-element list
            of it) or a 1-D one-hot / multi-hot vector (tensor or array).

    Returns:
        np.ndarray | None: ``(N,)`` int64 ids, ``(N, C)`` int64 0/1 targets
        (``C`` the vectors' length), or None when a label is missing or of
        another kind (mixed kinds, vectors of unequal length).
    """
    if all(isinstance(x, (list, tuple)) and len(x) == 1 for x in labels):
        labels = [x[0] for x in labels]
    if all(isinstance(x, (int, np.integer)) for x in labels):
        return np.asarray(labels, dtype=np.int64)
    if not all(isinstance(x, (torch.Tensor, np.ndarray)) and x.ndim == 1
               for x in labels) or not labels:
        return None
    rows = [np.asarray(x) for x in labels]
    if len({len(r) for r in rows}) != 1:
        return None
    targets = np.stack(rows)
    if not np.isin(targets, (0, 1)).all():
        return None
    return targets.astype(np.int64)
