"""ClusterFitHook: pseudo-labels from a pre-trained network, before training
(``before_run``: after the train loop is built, before mmengine resumes a
checkpoint). Label sets, fingerprints, reuse decisions, statistics, K checks
and resume checks live in the modules that own them (imported below)."""
import os.path as osp
import shutil
from typing import List, Optional, Sequence, Union

import numpy as np
from mmengine.hooks import Hook
from mmengine.runner import BaseLoop
from mmpretrain.registry import HOOKS
from mmpretrain.utils import get_ori_model

from cf_mm.clustering.baselines import METHODS
from cf_mm.clustering.label_sets import cluster_label_set, make_label_sets
from cf_mm.datasets.pseudo_label import find_pseudo_label_dataset
from cf_mm.features.extract import (check_checkpoint_file, extract_layer,
                                    extraction_pipeline)
from cf_mm.features.store import check_store_covers
from cf_mm.utils.dist import broadcast_int64, on_rank0
from cf_mm.utils.fingerprint import clusterfit_fingerprints
from cf_mm.utils.lock import DirLock, LockHeldError
from cf_mm.utils.rng import preserved_rng_state
from cf_mm.utils.saved_labels import decide_reuse
from ..runner_utils import (check_num_clusters, log_label_statistics,
                            restart_train_dataloader)
from .resume import check_checkpoint_labels, resolve_resume_checkpoint


@HOOKS.register_module()
class ClusterFitHook(Hook):
    """Cluster the features of a pre-trained network into pseudo-labels.

    Before training, the hook extracts ``layer`` features of N_pre over the
    train dataset (deterministic pipeline), clusters them into
    ``num_clusters`` groups and hands the cluster ids to the
    :class:`PseudoLabelDataset` of the train dataloader. Labels, centroids
    and ``summary.json`` (with the fingerprint of everything that made them)
    go to ``work_dir/clusterfit/<task>``; a rerun or ``--resume`` with the
    same fingerprint reuses them. A list ``num_clusters=[K1, K2, ...]`` (the
    K sweep of Table 7) extracts once and makes one label set per K (task
    ``k<K>`` or ``task_names``) for a ``MultiTaskHead`` N_cf. The k-means
    defaults follow the paper (appendix D) and VISSL: L2-normalised
    features, plain k-means (``spherical=False``); appendix B's 1B-image
    schedule is ``num_iters=30, max_train_points=200_000_000,
    num_full_iters=5``. Cluster sizes, the objective per iteration and
    NMI/ARI against the dataset's own labels are logged as visualizer
    scalars ``clusterfit/<task>/...``.

    Args:
        pretrained_config (str): Config of N_pre (built as mmpretrain's
            ``get_model`` does).
        pretrained_checkpoint (str): Checkpoint of N_pre.
        num_clusters (int | Sequence[int]): K, equal to the head's (and
            ``data_preprocessor``'s) ``num_classes``; a list makes one label
            set per K for a ``MultiTaskHead``. Defaults to 16000 (paper).
        layer (str): ``'res5'`` (paper), ``'res4'``, ``'conv1'`` ... or a
            backbone module name.
        num_iters (int): k-means iterations on the training sample.
        seed (int): k-means seed.
        backend (str): ``'auto'``, ``'faiss'`` or ``'torch'``.
        spherical (bool): Re-normalise centroids after every update.
        max_train_points (int, optional): Train k-means on at most this many
            points, then assign every point.
        num_full_iters (int): Lloyd iterations over all points after the
            sample (appendix B: 5).
        extract_pipeline (Sequence[dict], optional): Deterministic pipeline
            giving N_pre's input; defaults to N_pre's own test pipeline.
        batch_size (int): Extraction batch size per GPU.
        num_workers (int): Extraction dataloader workers.
        feature_dtype (str): On-disk feature dtype.
        keep_features (bool): Keep ``clusterfit/<task>/features``.
        task_name (str, optional): Label set of a multi-task
            PseudoLabelDataset (a folder name: letters, digits, ``_-.``).
        method (str): ``'kmeans'`` (ClusterFit), or a baseline using the
            wrapped dataset's labels: ``'prototype'`` (nearest class mean)
            or ``'per_label'`` (k-means inside each label).
        task_names (Sequence[str], optional): Tasks of a K list (default
            ``k<K>``).
    """

    priority = 'VERY_HIGH'

    def __init__(self,
                 pretrained_config: str,
                 pretrained_checkpoint: str,
                 num_clusters: Union[int, Sequence[int]] = 16000,
                 layer: str = 'res5',
                 num_iters: int = 20,
                 seed: int = 0,
                 backend: str = 'auto',
                 spherical: bool = False,
                 max_train_points: Optional[int] = None,
                 num_full_iters: int = 0,
                 extract_pipeline: Optional[Sequence[dict]] = None,
                 batch_size: int = 64,
                 num_workers: int = 2,
                 feature_dtype: str = 'float32',
                 keep_features: bool = False,
                 task_name: Optional[str] = None,
                 method: str = 'kmeans',
                 task_names: Optional[Sequence[str]] = None):
        if method not in METHODS:
            raise ValueError(f'ClusterFitHook: unknown method {method!r}; '
                             f'use one of {METHODS}')
        for name, path in (('pretrained_config', pretrained_config),
                           ('pretrained_checkpoint', pretrained_checkpoint)):
            if not osp.isfile(path):
                raise FileNotFoundError(f'ClusterFitHook: {name} not found: '
                                        f'{path}')
        if int(num_full_iters) < 0:
            raise ValueError('ClusterFitHook: num_full_iters must be >= 0, '
                             f'got {num_full_iters}')
        self.label_sets = make_label_sets(num_clusters, task_name,
                                          task_names)
        self.multi_k = not isinstance(num_clusters, (int, np.integer))
        ks = [label_set.num_clusters for label_set in self.label_sets]
        self.num_clusters = ks if self.multi_k else ks[0]
        self.pretrained_config = pretrained_config
        self.pretrained_checkpoint = pretrained_checkpoint
        self.settings = dict(
            num_iters=int(num_iters), seed=int(seed), backend=backend,
            spherical=bool(spherical), max_train_points=max_train_points,
            num_full_iters=int(num_full_iters))
        self.layer, self.method, self.task_name = layer, method, task_name
        if extract_pipeline is None:
            extract_pipeline, self.pipeline_source = extraction_pipeline(
                pretrained_config)
        else:
            self.pipeline_source = 'ClusterFitHook.extract_pipeline'
        self.extract_pipeline = [dict(t) for t in extract_pipeline]
        self.extract_args = dict(batch_size=batch_size,
                                 num_workers=num_workers, dtype=feature_dtype)
        self.keep_features = keep_features
        self.labels_ready = False
        self._locks: List[DirLock] = []
        self._resume_from: Optional[str] = None

    @property
    def task(self) -> str:
        """Name of the (first) label set in file paths and scalar names."""
        return self.label_sets[0].task

    @property
    def task_names(self) -> List[Optional[str]]:
        return [label_set.task_name for label_set in self.label_sets]

    def before_run(self, runner) -> None:
        # Runner.train() has built its train loop here; val()/test() have not.
        if isinstance(getattr(runner, '_train_loop', None), BaseLoop):
            self.prepare_labels(runner)

    def before_train(self, runner) -> None:
        self.prepare_labels(runner)  # loops driven without Runner.train()

    def after_run(self, runner) -> None:
        self._release_lock()

    def prepare_labels(self, runner) -> None:
        """Check, extract, cluster (or reuse) and publish the labels."""
        if self.labels_ready:
            return
        dataset = find_pseudo_label_dataset(runner.train_dataloader.dataset)
        self._check_config(runner, dataset)
        for label_set in self.label_sets:
            label_set.out_dir = osp.join(runner.work_dir, 'clusterfit',
                                         label_set.task)
        with preserved_rng_state():
            try:
                on_rank0(self._lock_out_dirs, 'ClusterFitHook')
                labels = self._load_or_cluster(runner, dataset)
            except BaseException:
                self._release_lock()
                raise
        for label_set, task_labels in zip(self.label_sets, labels):
            dataset.set_labels(task_labels, label_set.task_name,
                               source=osp.join(label_set.out_dir,
                                               'labels.npy'),
                               num_clusters=label_set.num_clusters)
            log_label_statistics(runner, dataset, label_set, task_labels)
        # The train loop gave the visualizer the label-less metainfo.
        train_dataset = runner.train_dataloader.dataset
        if hasattr(train_dataset, 'metainfo'):
            runner.visualizer.dataset_meta = train_dataset.metainfo
        restart_train_dataloader(runner)
        self.labels_ready = True

    def _check_config(self, runner, dataset) -> None:
        """Stop before any work if K cannot work with the model or the
        dataset, or a checkpoint cannot be read."""
        check_num_clusters(runner.model, dataset, self.label_sets,
                           self.multi_k)
        check_checkpoint_file(self.pretrained_checkpoint,
                              'ClusterFitHook: pretrained_checkpoint')
        self._resume_from = resolve_resume_checkpoint(runner)

    def _lock_out_dirs(self) -> None:
        """Rank 0: lock every label folder until the run ends."""
        for label_set in self.label_sets:
            try:
                self._locks.append(DirLock(label_set.out_dir,
                                           'ClusterFit labels').acquire())
            except LockHeldError as err:
                raise LockHeldError(f'ClusterFitHook: {err}') from None

    def _release_lock(self) -> None:
        while self._locks:
            self._locks.pop().release()

    def _kmeans_settings(self) -> dict:
        """k-means options besides K (plus ``method`` for a baseline: it
        enters the fingerprint)."""
        return dict(self.settings, **({} if self.method == 'kmeans' else
                                      dict(method=self.method)))

    def _class_labels(self, dataset) -> Optional[np.ndarray]:
        """The wrapped dataset's labels, which the baselines cluster by."""
        if self.method == 'kmeans':
            return None
        labels = dataset.get_original_gt_labels()
        if labels is None or len(labels) != len(dataset):
            raise ValueError(
                f'ClusterFitHook: method={self.method!r} clusters by the '
                'class labels of the train dataset, but '
                f'{type(dataset.dataset).__name__} (wrapped by '
                'PseudoLabelDataset) has no labels (get_gt_labels()); use '
                "method='kmeans' or a labelled dataset")
        return np.asarray(labels)

    def _load_or_cluster(self, runner, dataset) -> List[np.ndarray]:
        """Every label set's labels on every rank: reused when the
        fingerprint matches, else extracted once (every rank) and clustered
        (rank 0). A resumed run never replaces the labels its checkpoint was
        trained on."""
        labels = {}

        def decide() -> tuple:  # rank 0 only: hashes, reads files
            fingerprints = clusterfit_fingerprints(
                self.pretrained_checkpoint, dataset.dataset, self.layer,
                self.extract_pipeline, self._kmeans_settings(),
                [s.num_clusters for s in self.label_sets],
                class_labels=self._class_labels(dataset))
            for i, label_set in enumerate(self.label_sets):
                decision = decide_reuse(label_set.out_dir, fingerprints[i],
                                        self._resume_from)
                if decision.refusal:
                    raise RuntimeError(decision.refusal)
                if decision.warning:
                    runner.logger.warning(decision.warning)
                if decision.labels is not None:
                    labels[i] = decision.labels
                    runner.logger.info(f'ClusterFit: reusing labels in '
                                       f'{label_set.out_dir} (same '
                                       'fingerprint)')
            return fingerprints, [i for i in range(len(fingerprints))
                                  if i not in labels]

        fingerprints, todo = on_rank0(decide, 'ClusterFitHook')
        if todo:
            feat_dir = osp.join(self.label_sets[todo[0]].out_dir, 'features')
            store = extract_layer(
                self.pretrained_config, self.pretrained_checkpoint,
                dataset.dataset, self.extract_pipeline, self.pipeline_source,
                self.layer, feat_dir, logger=runner.logger,
                device=next(get_ori_model(runner.model).parameters()).device,
                **self.extract_args)
            on_rank0(lambda: self._cluster(runner, dataset, store, todo,
                                           fingerprints, labels, feat_dir),
                     'ClusterFitHook')
        return [broadcast_int64(labels.get(i), len(dataset))
                for i in range(len(self.label_sets))]

    def _cluster(self, runner, dataset, store, todo: List[int],
                 fingerprints: List[dict], labels: dict,
                 feat_dir: str) -> None:
        """Rank 0: cluster and save the label sets ``todo``; a resumed run
        checks them against its checkpoint."""
        check_store_covers(store, len(dataset), 'the train dataset')
        for i in todo:
            labels[i] = cluster_label_set(
                store, self.label_sets[i], self.method, self.settings,
                self._class_labels(dataset),
                meta=dict(fingerprint=fingerprints[i]), logger=runner.logger)
        if not self.keep_features:
            shutil.rmtree(feat_dir, ignore_errors=True)
        for i in todo if self._resume_from is not None else []:
            check_checkpoint_labels(self._resume_from, labels[i],
                                    self.label_sets[i].task,
                                    self.label_sets[i].out_dir)
