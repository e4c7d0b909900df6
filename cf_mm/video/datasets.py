"""Pseudo-labels and one-random-tag labels for mmaction2 datasets."""
from typing import List, Optional, Sequence

import numpy as np
import torch
from mmaction.datasets import RawframeDataset, VideoDataset
from mmaction.registry import DATASETS

from cf_mm.clustering.baselines import single_label_of
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


class RandomTagMixin:
    """One tag per video, picked at random (seeded) among its listed tags.

    ClusterFit, appendix C: "If multiple hashtags are attached to one video,
    one hashtag/verb is randomly picked as label." The annotation lines
    carry every tag (``<file> <tag> [<tag> ...]``, mmaction2's multi-label
    layout); the dataset is single-label: ``label`` is the picked tag, an
    int, so the head trains with softmax cross-entropy. The pick is
    :func:`cf_mm.clustering.baselines.single_label_of` of the ``(N, C)`` tag
    matrix with ``seed``: fixed for the run, and the same pick the
    per-label and prototype baselines cluster by when they wrap a dataset
    with the same seed (they read these ``(N,)`` labels). Every listed tag
    stays in ``tags``.

    Args:
        num_classes (int): Number of tags ``C``; a listed tag outside
            ``[0, C)`` is an error naming the line.
        seed (int): Seed of the pick.
    """

    def __init__(self, *args, num_classes: int, seed: int = 0, **kwargs):
        if kwargs.pop('multi_class', False):
            raise ValueError(
                f'{type(self).__name__} is single-label (one random tag per '
                "video); for every tag use mmaction2's "
                f'{type(self).__mro__[2].__name__}(multi_class=True)')
        self.tag_seed = int(seed)
        super().__init__(*args, num_classes=num_classes, multi_class=False,
                         **kwargs)

    def load_data_list(self) -> List[dict]:
        """mmaction2's multi-label parsing, then one tag per video."""
        self.multi_class = True  # parse every tag of a line
        try:
            data_list = super().load_data_list()
        finally:
            self.multi_class = False
        tags = np.zeros((len(data_list), self.num_classes), dtype=np.int64)
        for row, info in enumerate(data_list):
            listed = [t for t in info['label'] if t != -1]
            bad = [t for t in listed if not 0 <= t < self.num_classes]
            if bad or not listed:
                name = info.get('filename', info.get('frame_dir'))
                problem = (f'tags {bad} outside [0, num_classes='
                           f'{self.num_classes})' if bad else
                           'no tag (a random tag needs at least one)')
                raise ValueError(f'{self.ann_file}, line {row + 1} ({name}): '
                                 f'{problem}')
            tags[row, listed] = 1
        picked = single_label_of(tags, self.tag_seed)
        for info, tag in zip(data_list, picked):
            info['tags'] = sorted(set(int(t) for t in info['label']))
            info['label'] = int(tag)
        return data_list


@DATASETS.register_module()
class RandomTagVideoDataset(RandomTagMixin, VideoDataset):
    """``VideoDataset`` labelled with one random tag per video.

    See :class:`RandomTagMixin`. Args as ``VideoDataset`` plus ``seed``;
    ``num_classes`` is required.
    """


@DATASETS.register_module()
class RandomTagRawframeDataset(RandomTagMixin, RawframeDataset):
    """``RawframeDataset`` labelled with one random tag per video.

    See :class:`RandomTagMixin`. Args as ``RawframeDataset`` plus ``seed``;
    ``num_classes`` is required.
    """
