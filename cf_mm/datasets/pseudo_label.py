"""A dataset wrapper that serves cluster ids (pseudo-labels) as ``gt_label``."""
import copy
import logging
import os.path as osp
from typing import Dict, List, Optional, Sequence, Union

import numpy as np
from mmengine.dataset import BaseDataset, Compose
from mmengine.logging import print_log
from mmpretrain.registry import DATASETS

from cf_mm.clustering import load_labels
# Re-exported here, where they were first defined.
from cf_mm.utils.fingerprint import dataset_fingerprint  # noqa: F401
from cf_mm.utils.fingerprint import labels_sha256
from cf_mm.utils.saved_labels import check_label_source
from cf_mm.clustering.results import saved_num_clusters
from cf_mm.utils.fingerprint import file_identity

UNSET = -1


@DATASETS.register_module()
class PseudoLabelDataset:
    """Wraps any mmpretrain dataset and replaces its labels by cluster ids.

    The wrapped dataset provides images (and its own pipeline); this wrapper
    puts the pseudo-label of sample ``i`` into ``gt_label`` before that
    pipeline runs, and keeps the original label, if any, as ``ori_gt_label``
    (reachable through :meth:`get_original_gt_labels` for NMI against ground
    truth).

    Labels come either from label files written by ``tools/cluster.py`` (the
    offline path) or from :class:`~cf_mm.engine.ClusterFitHook`, which calls
    :meth:`set_labels` before training.

    With several label sets (multi-task ClusterFit, appendix E), ``gt_label``
    is a dict ``{task_name: label}``; end the pipeline with mmpretrain's
    ``PackMultiTaskInputs(multi_task_fields=('gt_label', ))`` and use
    ``MultiTaskHead``.

    Args:
        dataset (dict | BaseDataset): The wrapped dataset or its config.
        task_names (Sequence[str], optional): Names of the label sets.
            ``None`` means one label set and an integer ``gt_label``.
        label_files (str | Sequence[str] | dict, optional): ``labels.npy``
            files (or directories holding one), one per task, in the order
            of ``task_names`` or as ``{task_name: path}``.
        num_clusters (int | Sequence[int], optional): K of each label set;
            sets ``metainfo['classes']``. Inferred from the labels when
            omitted.
        check_source (bool): Check that ``label_files`` were made from the
            images of ``dataset`` (the dataset fingerprint their folder
            records, see :func:`cf_mm.utils.saved_labels.
            check_label_source`; one ``stat`` per file). Defaults to True.
    """

    def __init__(self,
                 dataset: Union[dict, BaseDataset],
                 task_names: Optional[Sequence[str]] = None,
                 label_files: Union[str, Sequence[str], Dict[str, str],
                                    None] = None,
                 num_clusters: Union[int, Sequence[int], None] = None,
                 check_source: bool = True):
        if isinstance(dataset, dict):
            dataset = DATASETS.build(dataset)
        self.dataset = dataset
        self.multi_task = task_names is not None
        self.task_names: List[str] = list(task_names or ['default'])
        if len(set(self.task_names)) != len(self.task_names):
            raise ValueError(f'duplicate task_names: {self.task_names}')
        self._labels = np.full((len(self.task_names), len(dataset)),
                               UNSET,
                               dtype=np.int64)
        if isinstance(num_clusters, int) or num_clusters is None:
            num_clusters = [num_clusters] * len(self.task_names)
        self._num_clusters = list(num_clusters)
        self._label_sha256: List[Optional[str]] = [None] * len(
            self.task_names)
        self.check_source = check_source
        #: Where each task's labels came from (a label file, the hook's
        #: labels.npy), for messages; None until set.
        self.label_sources: List[Optional[str]] = [None] * len(
            self.task_names)
        if label_files is not None:
            self._load_label_files(label_files)

    # ------------------------------------------------------------------
    # labels
    def _load_label_files(self, label_files) -> None:
        if isinstance(label_files, str):
            label_files = [label_files]
        if not isinstance(label_files, dict):
            if len(label_files) != len(self.task_names):
                raise ValueError(
                    f'{len(label_files)} label_files for '
                    f'{len(self.task_names)} tasks {self.task_names}')
            label_files = dict(zip(self.task_names, label_files))
        for task, path in label_files.items():
            if self.check_source:
                warning = check_label_source(path, self.dataset)
                if warning:
                    print_log(warning, logger='current',
                              level=logging.WARNING)
            idx = self._task_index(task)
            saved_k = saved_num_clusters(path)
            given_k = self._num_clusters[idx]
            if saved_k is not None and given_k is not None and \
                    saved_k != given_k:
                raise ValueError(
                    f'PseudoLabelDataset: the labels in {path} were '
                    f'clustered with K={saved_k} (its summary.json), but '
                    f'num_clusters={given_k}; set num_clusters to {saved_k} '
                    f'(and the head to {saved_k} classes), or give labels '
                    f'clustered with K={given_k}')
            self.set_labels(load_labels(path), task, source=path,
                            num_clusters=saved_k)

    def _task_index(self, task: Optional[str]) -> int:
        if task is None:
            if len(self.task_names) != 1:
                raise ValueError('several label sets: name the task, one of '
                                 f'{self.task_names}')
            return 0
        if task not in self.task_names:
            raise KeyError(f"unknown task '{task}'; this dataset has "
                           f'task_names={self.task_names}')
        return self.task_names.index(task)

    def set_labels(self,
                   labels: np.ndarray,
                   task: Optional[str] = None,
                   source: str = 'labels',
                   num_clusters: Optional[int] = None) -> None:
        """Set the pseudo-labels of one task (row ``i`` = sample ``i``).

        Args:
            labels (np.ndarray): ``(N, )`` integer cluster ids, ``N`` equal
                to the length of the wrapped dataset.
            task (str, optional): Task name; may be omitted with one task.
            source (str): Where the labels came from, for error messages.
            num_clusters (int, optional): K of this label set (clusters may
                be empty, so K can exceed ``labels.max() + 1``); sets
                ``metainfo['classes']``. Defaults to the constructor's
                ``num_clusters``, else ``labels.max() + 1``.
        """
        labels = np.asarray(labels)
        if labels.ndim != 1 or labels.shape[0] != len(self.dataset):
            raise ValueError(
                f'{source}: expected {len(self.dataset)} labels (one per '
                f'sample of {type(self.dataset).__name__}), got shape '
                f'{labels.shape}')
        if not np.issubdtype(labels.dtype, np.integer):
            raise ValueError(f'{source}: labels must be integers, got '
                             f'{labels.dtype}')
        if labels.size and labels.min() < 0:
            raise ValueError(f'{source}: negative label {labels.min()}')
        idx = self._task_index(task)
        k = self._num_clusters[idx] if num_clusters is None else int(
            num_clusters)
        if k is not None and labels.size and labels.max() >= k:
            raise ValueError(f'{source}: label {labels.max()} >= '
                             f'num_clusters={k}')
        self._labels[idx] = labels
        self._label_sha256[idx] = labels_sha256(labels)
        self.label_sources[idx] = source
        self._num_clusters[idx] = int(labels.max()) + 1 if k is None else k

    def num_clusters_of(self, task: Optional[str] = None) -> Optional[int]:
        """K of one task's label set (None until labels or K are set)."""
        return self._num_clusters[self._task_index(task)]

    def get_labels(self, task: Optional[str] = None) -> np.ndarray:
        """Return a copy of the pseudo-labels of one task."""
        return self._labels[self._task_index(task)].copy()

    def has_labels(self, task: Optional[str] = None) -> bool:
        """Whether the labels of ``task`` (all tasks if None) are set."""
        rows = (self._labels if task is None else
                self._labels[self._task_index(task)][None])
        return bool((rows != UNSET).all())

    def get_original_gt_labels(self) -> Optional[np.ndarray]:
        """Labels of the wrapped dataset, or None if it has none."""
        try:
            return np.asarray(self.dataset.get_gt_labels())
        except (AttributeError, KeyError, TypeError):
            return None

    # ------------------------------------------------------------------
    # dataset protocol
    @property
    def metainfo(self) -> dict:
        meta = copy.deepcopy(getattr(self.dataset, 'metainfo', {}) or {})
        meta['ori_classes'] = meta.pop('classes', None)
        ks = self._num_clusters
        if not self.multi_task and ks[0] is not None:
            meta['classes'] = tuple(f'cluster_{i}' for i in range(ks[0]))
        meta['num_clusters'] = dict(zip(self.task_names, ks))
        # Part of every checkpoint's `dataset_meta`: mmengine's resume check
        # then compares the labels themselves, not only their number.
        meta['pseudo_label_sha256'] = dict(
            zip(self.task_names, self._label_sha256))
        return meta

    @property
    def pipeline(self) -> Compose:
        return self.dataset.pipeline

    def full_init(self) -> None:
        if hasattr(self.dataset, 'full_init'):
            self.dataset.full_init()

    def __len__(self) -> int:
        return len(self.dataset)

    def get_data_info(self, idx: int) -> dict:
        """Data info of sample ``idx`` with its pseudo-label(s) attached."""
        info = copy.deepcopy(self.dataset.get_data_info(idx))
        info['sample_idx'] = idx
        if 'gt_label' in info:
            info['ori_gt_label'] = info.pop('gt_label')
        labels = self._labels[:, idx]
        if (labels == UNSET).any():
            missing = [t for t, v in zip(self.task_names, labels) if v < 0]
            raise RuntimeError(
                f'PseudoLabelDataset: no pseudo-labels for tasks {missing} '
                'yet. Give `label_files` or add ClusterFitHook to '
                '`custom_hooks` so labels are set before training.')
        if self.multi_task:
            info['gt_label'] = {
                t: int(v)
                for t, v in zip(self.task_names, labels)
            }
        else:
            info['gt_label'] = int(labels[0])
        return info

    def __getitem__(self, idx: int) -> dict:
        return run_pipeline(self.dataset.pipeline, self.get_data_info(idx),
                            idx)


class DatasetView:
    """The samples of a dataset under another (e.g. test-time) pipeline.

    Used to extract features of exactly the samples, in exactly the order,
    that a training dataset serves, but with a deterministic pipeline.

    Args:
        dataset: Any mmengine dataset (``get_data_info`` and ``len``).
        pipeline (Sequence[dict]): Transform configs.
        source (str): Where the pipeline came from (for error messages).
    """

    def __init__(self, dataset, pipeline: Sequence[dict], source: str = ''):
        self.dataset = dataset
        self.pipeline = Compose(pipeline)
        self.source = source or 'the extraction pipeline'

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, idx: int) -> dict:
        info = copy.deepcopy(self.dataset.get_data_info(idx))
        info['sample_idx'] = idx
        info.pop('gt_label', None)
        return run_pipeline(self.pipeline, info, idx)


class SampleError(ValueError):
    """A sample failed in the pipeline; the message names its file."""


def run_pipeline(pipeline, info: dict, idx: int):
    """``pipeline(info)``, with a failure naming the sample and its file.

    A zero-byte or unreadable image otherwise surfaces as a bare decoder
    error (e.g. ``cv2.error``) that names no file.
    """
    try:
        return pipeline(info)
    except Exception as err:
        # mmaction2's video datasets name the file `filename`
        where = (info.get('img_path') or info.get('filename')
                 or '(in-memory image)')
        first = (str(err).strip().splitlines() or [''])[0]
        size = ''
        if isinstance(where, str) and osp.isfile(where):
            size = f', {osp.getsize(where)} bytes'
        raise SampleError(f'sample {idx} ({where}{size}) failed in the '
                          f'pipeline: {type(err).__name__}: {first}') from err


def find_pseudo_label_dataset(dataset) -> PseudoLabelDataset:
    """The :class:`PseudoLabelDataset` in a (possibly wrapped) dataset.

    Raises:
        TypeError: There is none, with the config change that adds it.
    """
    seen = dataset
    while seen is not None:
        if isinstance(seen, PseudoLabelDataset):
            return seen
        seen = getattr(seen, 'dataset', None)
    raise TypeError(
        'ClusterFitHook needs the train dataset to be a PseudoLabelDataset '
        f'(got {type(dataset).__name__}); wrap it: train_dataloader.dataset '
        "= dict(type='PseudoLabelDataset', dataset=<your dataset>)")
