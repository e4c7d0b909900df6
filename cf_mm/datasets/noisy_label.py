"""Synthetic uniform label noise: the control experiment of ClusterFit §3.2.

Exactly ``round(p / 100 * N)`` samples, chosen at random, get a label drawn
uniformly from the *other* classes (footnote 1 of the paper), so the
realised noise rate is ``p`` to the sample and no noisy label equals its
original.
"""
import copy
from typing import Optional, Sequence, Union

import numpy as np
from mmengine.dataset import BaseDataset
from mmengine.logging import MMLogger
from mmpretrain.registry import DATASETS


def corrupt_labels(labels: np.ndarray, noise_percent: float,
                   num_classes: int, seed: int = 0) -> np.ndarray:
    """Replace exactly ``round(noise_percent / 100 * N)`` labels.

    Each chosen label ``l`` becomes ``(l + s) % num_classes`` with ``s``
    uniform in ``1 .. num_classes - 1``: uniform over the classes other than
    ``l``.

    Args:
        labels (np.ndarray): ``(N, )`` integer labels in
            ``[0, num_classes)``.
        noise_percent (float): ``p`` in ``[0, 100]``.
        num_classes (int): Number of classes.
        seed (int): Seed of the choice of samples and of new labels.

    Returns:
        np.ndarray: ``(N, )`` int64 noisy labels.
    """
    labels = np.asarray(labels, dtype=np.int64)
    if labels.ndim != 1:
        raise ValueError(f'labels must be 1-D, got shape {labels.shape}')
    if not 0 <= noise_percent <= 100:
        raise ValueError(f'noise_percent must be in [0, 100], got '
                         f'{noise_percent}')
    if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
        raise ValueError(f'labels must be in [0, {num_classes}), got range '
                         f'[{labels.min()}, {labels.max()}]')
    num_noisy = int(round(noise_percent / 100 * len(labels)))
    if num_noisy and num_classes < 2:
        raise ValueError('label noise needs at least 2 classes, got '
                         f'num_classes={num_classes}')
    rng = np.random.default_rng(seed)
    noisy = labels.copy()
    chosen = rng.choice(len(labels), size=num_noisy, replace=False)
    shift = rng.integers(1, num_classes, size=num_noisy)
    noisy[chosen] = (labels[chosen] + shift) % num_classes
    return noisy


@DATASETS.register_module()
class NoisyLabelDataset:
    """Wraps a classification dataset and corrupts ``p`` % of its labels.

    The corrupted labels are fixed at construction (seeded), served as
    ``gt_label`` and returned by :meth:`get_gt_labels`, so the N_pre trained
    on this dataset sees the same noise every epoch; the clean labels stay
    available through :meth:`get_original_gt_labels` (and as
    ``ori_gt_label`` in each data info). The realised rate is logged and
    kept in :attr:`realised_noise_rate`.

    Args:
        dataset (dict | BaseDataset): The wrapped dataset or its config; it
            must provide ``get_gt_labels()``.
        noise_percent (float): ``p``, the percentage of labels to corrupt,
            in ``[0, 100]``.
        seed (int): Seed of the noise. Defaults to 0.
        num_classes (int, optional): Number of classes; defaults to
            ``len(dataset.metainfo['classes'])``.
    """

    def __init__(self,
                 dataset: Union[dict, BaseDataset],
                 noise_percent: float,
                 seed: int = 0,
                 num_classes: Optional[int] = None):
        if isinstance(dataset, dict):
            dataset = DATASETS.build(dataset)
        self.dataset = dataset
        self.noise_percent = float(noise_percent)
        self.seed = seed
        if hasattr(dataset, 'full_init'):
            dataset.full_init()
        self._original_labels = self._read_labels(dataset)
        self.num_classes = num_classes or self._infer_num_classes(dataset)
        self._labels = corrupt_labels(self._original_labels,
                                      self.noise_percent, self.num_classes,
                                      seed)
        self.noisy_indices = np.flatnonzero(
            self._labels != self._original_labels)
        self.realised_noise_rate = (
            len(self.noisy_indices) / max(len(self._labels), 1))
        MMLogger.get_current_instance().info(
            f'NoisyLabelDataset: {len(self.noisy_indices)} of '
            f'{len(self._labels)} labels corrupted (requested '
            f'{self.noise_percent:g}%, realised '
            f'{100 * self.realised_noise_rate:.4f}%, seed {seed}, '
            f'{self.num_classes} classes)')

    @staticmethod
    def _read_labels(dataset) -> np.ndarray:
        if not hasattr(dataset, 'get_gt_labels'):
            raise ValueError(
                f'NoisyLabelDataset: {type(dataset).__name__} has no '
                'get_gt_labels(); wrap a classification dataset')
        labels = np.asarray(dataset.get_gt_labels())
        if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer):
            raise ValueError(
                f'NoisyLabelDataset: {type(dataset).__name__} labels must be '
                f'single integers per sample, got dtype {labels.dtype} and '
                f'shape {labels.shape}')
        return labels.astype(np.int64)

    def _infer_num_classes(self, dataset) -> int:
        classes = (getattr(dataset, 'metainfo', None) or {}).get('classes')
        if not classes:
            raise ValueError(
                f'NoisyLabelDataset: {type(dataset).__name__} has no '
                "metainfo['classes']; pass num_classes")
        return len(classes)

    # ------------------------------------------------------------------
    def get_gt_labels(self) -> np.ndarray:
        """The (noisy) labels served for training."""
        return self._labels.copy()

    def get_original_gt_labels(self) -> np.ndarray:
        """The clean labels of the wrapped dataset."""
        return self._original_labels.copy()

    def get_cat_ids(self, idx: int) -> Sequence[int]:
        return [int(self._labels[idx])]

    @property
    def metainfo(self) -> dict:
        meta = copy.deepcopy(getattr(self.dataset, 'metainfo', {}) or {})
        meta['noise_percent'] = self.noise_percent
        meta['realised_noise_rate'] = self.realised_noise_rate
        return meta

    @property
    def pipeline(self):
        return self.dataset.pipeline

    def full_init(self) -> None:
        """The wrapped dataset is initialised in ``__init__``."""

    def __len__(self) -> int:
        return len(self.dataset)

    def get_data_info(self, idx: int) -> dict:
        info = copy.deepcopy(self.dataset.get_data_info(idx))
        info['sample_idx'] = idx
        info['ori_gt_label'] = int(self._original_labels[idx])
        info['gt_label'] = int(self._labels[idx])
        return info

    def __getitem__(self, idx: int) -> dict:
        return self.dataset.pipeline(self.get_data_info(idx))
