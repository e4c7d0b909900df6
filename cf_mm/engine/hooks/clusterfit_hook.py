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

from cf_mm.clustering.label_sets import cluster_label_sets, make_label_sets
from cf_mm.datasets.pseudo_label import find_pseudo_label_dataset
from cf_mm.features.extract import (check_checkpoint_file, extract_layer,
                                    extraction_pipeline,
                                    resolved_model_config)
from cf_mm.utils.dist import broadcast_int64, on_rank0
from cf_mm.utils.fingerprint import (check_fingerprint_mode,
                                     clusterfit_fingerprints, jsonable)
from cf_mm.utils.lock import DirLock, lock_all
from cf_mm.utils.rng import preserved_rng_state
from cf_mm.utils.saved_labels import decide_label_sets
from cf_mm.utils.checkpoint import resolve_checkpoint
from ..runner_utils import (check_hook_args, check_num_clusters,
                            check_pretrained_files, dataset_class_labels,
                            log_label_statistics, restart_train_dataloader)
from .resume import ResumedCheckpoint, resolve_resume_checkpoint


@HOOKS.register_module()
class ClusterFitHook(Hook):
    """Cluster the features of a pre-trained network into pseudo-labels.

    Before training, extracts ``layer`` features of N_pre over the train
    dataset (deterministic pipeline), clusters them into ``num_clusters``
    groups and hands the ids to the train :class:`PseudoLabelDataset`.
    Labels, centroids and ``summary.json`` (the fingerprint of everything
    that made them, the files' SHA-256) go to ``work_dir/clusterfit/<task>``;
    a rerun or ``--resume`` with the same fingerprint reuses them, a resume
    only ever trains on its checkpoint's labels. A list ``num_clusters=[K1,
    K2, ...]`` (the K sweep of Table 7) extracts once and makes one label set
    per K (task ``k<K>`` or ``task_names``) for a ``MultiTaskHead`` N_cf.
    k-means follows the paper (appendix D) and VISSL: L2-normalised
    features, plain k-means; appendix B's 1B-image schedule is
    ``num_iters=30, max_train_points=200_000_000, num_full_iters=5``. Sizes,
    objective and NMI/ARI are logged as scalars ``clusterfit/<task>/...``.

    Args:
        pretrained_config (str): Config of N_pre (built as ``get_model``).
        pretrained_checkpoint (str): Checkpoint of N_pre, or N_pre's
            ``<work_dir>/last_checkpoint`` (the checkpoint its run ended
            with, resolved when training starts).
        num_clusters (int | Sequence[int]): K (the head's ``num_classes``),
            or one K per task of a ``MultiTaskHead``. Defaults to 16000.
        layer (str): ``'res5'`` (paper), ``'res4'``, ``'conv1'`` ... or a
            backbone module name.
        num_iters, seed, backend, spherical, max_train_points,
            num_full_iters: k-means settings, see
            :func:`cf_mm.clustering.kmeans` (``max_train_points``: train on
            a sample, then assign every point).
        extract_pipeline (Sequence[dict], optional): Deterministic pipeline
            of N_pre's input (default: N_pre's test pipeline).
        batch_size (int): Extraction batch size per GPU.
        num_workers (int): Extraction dataloader workers.
        feature_dtype (str): On-disk feature dtype.
        keep_features (bool): Keep ``clusterfit/<task>/features``.
        task_name (str, optional): Task of a multi-task PseudoLabelDataset
            (a folder name: letters, digits, ``_-.``).
        method (str): ``'kmeans'``, or a baseline using the wrapped
            dataset's labels: ``'prototype'`` or ``'per_label'``.
        task_names (Sequence[str], optional): Tasks of a K list.
        allow_degenerate (bool): Train on a degenerate clustering (more than
            half of the clusters empty, or one cluster over half of the
            samples and 4x the mean size: e.g. a broken N_pre), which
            otherwise stops the run before any label is written.
        fingerprint_mode (str): ``'stat'`` (path, size, mtime of every
            image) or ``'content'`` (SHA-256 of every byte: catches an image
            swapped keeping size and mtime, at the cost of a full read).
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
                 task_names: Optional[Sequence[str]] = None,
                 allow_degenerate: bool = False,
                 fingerprint_mode: str = 'stat'):
        check_hook_args(method, num_full_iters)
        self.label_sets = make_label_sets(num_clusters, task_name,
                                          task_names)
        self.multi_k = not isinstance(num_clusters, (int, np.integer))
        ks = [label_set.num_clusters for label_set in self.label_sets]
        self.num_clusters = ks if self.multi_k else ks[0]
        self.pretrained_config = pretrained_config
        self.pretrained_checkpoint = pretrained_checkpoint
        self.checkpoint = pretrained_checkpoint  # resolved in _check_config
        self.settings = dict(
            num_iters=int(num_iters), seed=int(seed), backend=backend,
            spherical=bool(spherical), max_train_points=max_train_points,
            num_full_iters=int(num_full_iters))
        self.layer, self.method, self.task_name = layer, method, task_name
        self.allow_degenerate = bool(allow_degenerate)
        self.fingerprint_mode = check_fingerprint_mode(
            fingerprint_mode, 'ClusterFitHook: fingerprint_mode')
        # N_pre's files are read when training starts (_check_config), not
        # here: testing or validating an N_cf config builds this hook too.
        self._given_pipeline = extract_pipeline
        self._extract_pipeline, self._pipeline_source = None, None
        self.pretrained_model = None
        self.extract_args = dict(batch_size=batch_size,
                                 num_workers=num_workers, dtype=feature_dtype)
        self.keep_features = keep_features
        self.labels_ready = False
        self._locks: List[DirLock] = []
        self._resume = ResumedCheckpoint()

    @property
    def task(self) -> str:  # of the (first) label set, in paths and scalars
        return self.label_sets[0].task

    @property
    def extract_pipeline(self) -> List[dict]:
        """The extraction pipeline: the given one, else N_pre's own test
        pipeline (``pretrained_config`` is read on first use)."""
        if self._extract_pipeline is None:
            if self._given_pipeline is None:  # N_pre's: read its config
                self._check_pretrained_files()
            self._extract_pipeline, self._pipeline_source = \
                extraction_pipeline(self.pretrained_config,
                                    self._given_pipeline,
                                    'ClusterFitHook.extract_pipeline')
        return self._extract_pipeline

    @property
    def pipeline_source(self) -> str:
        """Where :attr:`extract_pipeline` comes from, for messages."""
        self.extract_pipeline  # noqa: B018 (sets it)
        return self._pipeline_source

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
                on_rank0(self._lock_label_dirs, 'ClusterFitHook')
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
        self._check_pretrained_files()
        # A run's last_checkpoint file stands for the checkpoint it names.
        self.checkpoint = resolve_checkpoint(self.pretrained_checkpoint)
        check_checkpoint_file(self.checkpoint,
                              'ClusterFitHook: pretrained_checkpoint')
        # What N_pre is besides its weights (e.g. its preprocessor's
        # mean/std) changes the features: part of the fingerprint.
        self.pretrained_model = jsonable(
            resolved_model_config(self.pretrained_config))
        self._resume = ResumedCheckpoint(resolve_resume_checkpoint(runner))

    def _check_pretrained_files(self) -> None:
        check_pretrained_files(self.pretrained_config,
                               self.pretrained_checkpoint)

    def _lock_label_dirs(self) -> None:  # rank 0, until the run ends
        self._locks = lock_all([s.out_dir for s in self.label_sets],
                               'ClusterFit labels', 'ClusterFitHook: ')

    def _release_lock(self) -> None:
        while self._locks:
            self._locks.pop().release()

    def _kmeans_settings(self) -> dict:
        """k-means options besides K (plus ``method`` for a baseline: it
        enters the fingerprint)."""
        return dict(self.settings, **({} if self.method == 'kmeans' else
                                      dict(method=self.method)))

    def _class_labels(self, dataset) -> Optional[np.ndarray]:
        return dataset_class_labels(dataset, self.method)

    def _load_or_cluster(self, runner, dataset) -> List[np.ndarray]:
        """Every label set's labels on every rank: reused when the
        fingerprint matches, else extracted once (every rank) and clustered
        (rank 0). A resumed run never replaces the labels its checkpoint was
        trained on."""
        labels, label_sets = {}, self.label_sets

        def decide() -> tuple:  # rank 0 only: hashes, reads files
            fingerprints = clusterfit_fingerprints(
                self.checkpoint, dataset.dataset, self.layer,
                self.extract_pipeline, self._kmeans_settings(),
                [s.num_clusters for s in label_sets],
                model_config=self.pretrained_model,
                class_labels=self._class_labels(dataset),
                mode=self.fingerprint_mode)
            labels.update(decide_label_sets(
                [s.out_dir for s in label_sets], fingerprints,
                self._resume.path, logger=runner.logger,
                check=lambda i, found: self._check_resumed(found, i)))
            return fingerprints, [i for i in range(len(label_sets))
                                  if i not in labels]

        fingerprints, todo = on_rank0(decide, 'ClusterFitHook')
        if todo:
            feat_dir = osp.join(self.label_sets[todo[0]].out_dir, 'features')
            store = extract_layer(
                self.pretrained_config, self.checkpoint,
                dataset.dataset, self.extract_pipeline, self.pipeline_source,
                self.layer, feat_dir, logger=runner.logger,
                device=next(get_ori_model(runner.model).parameters()).device,
                **self.extract_args)
            on_rank0(lambda: labels.update(cluster_label_sets(
                store, len(dataset), label_sets, todo, fingerprints,
                self.method, self.settings, self._class_labels(dataset),
                runner.logger, self.allow_degenerate,
                check=lambda i, made: self._check_resumed(made, i))),
                'ClusterFitHook')
            if not self.keep_features and runner.rank == 0:
                shutil.rmtree(feat_dir, ignore_errors=True)  # made labels
        return [broadcast_int64(labels.get(i), len(dataset))
                for i in range(len(self.label_sets))]

    def _check_resumed(self, labels, index: int) -> None:
        """A resumed run trains only on the labels of its checkpoint."""
        label_set = self.label_sets[index]
        self._resume.check(labels, label_set.task,
                           osp.join(label_set.out_dir, 'labels.npy'))
