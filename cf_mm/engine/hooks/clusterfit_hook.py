"""ClusterFitHook: pseudo-labels from a pre-trained network, before training.

Data flow (one arrow per module):
N_pre checkpoint -> :func:`cf_mm.features.extract.extract_to_store` (every rank
its shard) -> :func:`cf_mm.clustering.kmeans` (rank 0) ->
``work_dir/clusterfit/<task>/labels.npy`` -> broadcast ->
:meth:`PseudoLabelDataset.set_labels` -> dataloader workers restarted.

The work happens in ``before_run`` of ``Runner.train()``: after the train
loop is built, before mmengine resumes a checkpoint (and compares the
dataset's metainfo, which includes the labels' SHA-256, with the
checkpoint's) and before any training step.
"""
import hashlib
import json
import os
import os.path as osp
import shutil
from dataclasses import dataclass
from typing import List, Optional, Sequence, Tuple, Union

import numpy as np
import torch
from mmengine.dataset import InfiniteSampler
from mmengine.dist import (broadcast, broadcast_object_list,
                           get_dist_info, is_main_process)
from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmengine.runner import BaseLoop
from mmengine.runner.loops import _InfiniteDataloaderIterator
from mmpretrain.registry import HOOKS
from mmpretrain.utils import get_ori_model

from cf_mm.clustering import kmeans, save_cluster_result
from cf_mm.clustering.baselines import METHODS, cluster
from cf_mm.datasets.pseudo_label import (DatasetView, PseudoLabelDataset,
                                         dataset_fingerprint)
from cf_mm.features.extract import (build_extraction_model,
                                    check_checkpoint_file, check_model_input,
                                    extract_to_store, extraction_pipeline)
from cf_mm.features.store import check_store_covers
from cf_mm.utils.checkpoint import resolve_checkpoint
from cf_mm.utils.lock import DirLock, LockHeldError
from cf_mm.utils.rng import preserved_rng_state  # also importable here
from cf_mm.utils.saved_labels import check_saved_labels
from ..num_clusters import check_num_clusters
from .resume import (check_checkpoint_labels, resolve_resume_checkpoint,
                     resume_refusal)


def file_sha256(path: str, chunk: int = 1 << 20) -> str:
    """SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, 'rb') as f:
        for block in iter(lambda: f.read(chunk), b''):
            digest.update(block)
    return digest.hexdigest()


def find_pseudo_label_dataset(dataset) -> PseudoLabelDataset:
    """Find the :class:`PseudoLabelDataset` in (possibly wrapped) dataset."""
    seen = dataset
    while seen is not None:
        if isinstance(seen, PseudoLabelDataset):
            return seen
        seen = getattr(seen, 'dataset', None)
    raise TypeError(
        'ClusterFitHook needs the train dataset to be a PseudoLabelDataset '
        f'(got {type(dataset).__name__}); wrap it: train_dataloader.dataset '
        "= dict(type='PseudoLabelDataset', dataset=<your dataset>)")


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


@dataclass
class LabelSet:
    """One label set the hook makes.

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


def make_label_sets(num_clusters: Union[int, Sequence[int]],
                    task_name: Optional[str] = None,
                    task_names: Optional[Sequence[str]] = None
                    ) -> List[LabelSet]:
    """The label sets of ``ClusterFitHook(num_clusters, task_name,
    task_names)``: one for an int K, one per K (task ``k<K>`` unless
    ``task_names`` says otherwise) for a list.

    Raises:
        ValueError: A K below 2, an empty or repeated list, ``task_names``
            that do not match the list, or ``task_name`` with a list.
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
    return [LabelSet(name, k) for name, k in zip(names, ks)]


@HOOKS.register_module()
class ClusterFitHook(Hook):
    """Cluster the features of a pre-trained network into pseudo-labels.

    Before training, the hook extracts ``layer`` features of N_pre over the
    train dataset (with a deterministic pipeline), clusters them with
    k-means into ``num_clusters`` groups and hands the cluster ids to the
    :class:`PseudoLabelDataset` of the train dataloader. Labels, centroids
    and ``summary.json`` (with the fingerprint of checkpoint, dataset, layer,
    pipeline and every k-means setting) go to
    ``work_dir/clusterfit/<task_name>``; a rerun or ``--resume`` with the
    same fingerprint reuses them instead of clustering again. Use one hook
    per label set for multi-task ClusterFit of different N_pre.

    A K sweep (paper Table 7, Figure 3) from one extraction: a list
    ``num_clusters=[K1, K2, ...]`` extracts the features once, clusters them
    once per K and gives one label set per K (task ``k<K>``, or
    ``task_names``) to a multi-task ``PseudoLabelDataset``, trained with
    mmpretrain's ``MultiTaskHead`` (one head per task, ``num_classes`` =
    its K). Each label set has its own ``work_dir/clusterfit/<task>`` with
    labels, summary and fingerprint, reused per K on a rerun. Those
    ``labels.npy`` also serve separate N_cf runs (one per K) through
    ``PseudoLabelDataset(label_files=...)``, as ``tools/cluster.py -k
    K1,K2`` does offline.

    The k-means defaults follow the paper (appendix D, "we l2 normalize the
    features and use k-means"): features are L2-normalised and clustered
    with standard (Euclidean) k-means, whose centroids are plain means, not
    re-normalised (``spherical=False``). VISSL's ClusterFit tool
    (``tools/cluster_features_and_label.py``) does the same: it
    L2-normalises, then runs ``faiss.Kmeans`` with its default
    ``spherical=False``.
    ``spherical=True`` re-normalises the centroids after every update
    (spherical k-means, cosine assignments). Appendix B's 1B-image schedule
    is ``num_iters=30, max_train_points=200_000_000, num_full_iters=5``.

    Cluster statistics (sizes, empty clusters, the k-means objective per
    iteration and, when the wrapped dataset has labels, NMI/ARI against
    them) are logged and written as visualizer scalars
    ``clusterfit/<task_name>/...``.

    Args:
        pretrained_config (str): Config file of N_pre (its ``model`` and
            top-level ``data_preprocessor`` build N_pre as mmpretrain's
            ``get_model`` does).
        pretrained_checkpoint (str): Checkpoint of N_pre, or N_pre's
            ``<work_dir>/last_checkpoint`` (the checkpoint its run ended
            with, resolved when training starts).
        num_clusters (int | Sequence[int]): K. Must equal the head's
            ``num_classes`` (and ``data_preprocessor.num_classes`` when
            set). A list makes one label set per K from one extraction;
            then ``model.head`` is a ``MultiTaskHead`` whose head of each
            task has that task's K as ``num_classes``. Defaults to 16000
            (paper, section 4.2).
        layer (str): Layer to cluster: ``'res5'`` (paper) or ``'res4'``
            (appendix D), ``'conv1'`` ... or a backbone module name.
        num_iters (int): k-means iterations on the training sample.
            Defaults to 20.
        seed (int): k-means seed. Defaults to 0.
        backend (str): k-means backend (``'auto'``, ``'faiss'``, ``'torch'``).
        spherical (bool): Re-normalise centroids after every update.
            Defaults to False (the paper's k-means, see above).
        max_train_points (int, optional): Train k-means on at most this many
            points, then assign every point. Defaults to None (all).
        num_full_iters (int): Lloyd iterations over all points after
            training on the sample (appendix B: 5). Defaults to 0.
        extract_pipeline (Sequence[dict], optional): Deterministic pipeline
            applied to the raw samples of the train dataset for extraction;
            it must give N_pre's input (channels, size). Defaults to None:
            N_pre's own test pipeline (see
            :func:`cf_mm.features.extract.extraction_pipeline`).
        batch_size (int): Extraction batch size per GPU. Defaults to 64.
        num_workers (int): Extraction dataloader workers. Defaults to 2.
        feature_dtype (str): On-disk feature dtype. Defaults to 'float32'.
        keep_features (bool): Keep the extracted features in the work dir
            (``clusterfit/<task>/features``; with a K list, in the folder
            of the first label set clustered) after clustering. Defaults to
            False.
        task_name (str, optional): Label set of a multi-task
            PseudoLabelDataset (and task of a ``MultiTaskHead``). Defaults
            to None (single task).
        method (str): ``'kmeans'`` (ClusterFit, default), or a baseline of
            the paper that uses the train dataset's own labels (those of
            the dataset the ``PseudoLabelDataset`` wraps, e.g. the noisy
            labels of a ``NoisyLabelDataset``): ``'prototype'`` (nearest
            class mean; ``num_clusters`` = number of classes) or
            ``'per_label'`` (k-means inside each label, ``k_l ~
            sqrt(n_l)``), see :mod:`cf_mm.clustering.baselines`. A dataset
            without labels is an error. The method and the labels' hash
            are part of the fingerprint.
        task_names (Sequence[str], optional): Task names of the label sets
            of a list ``num_clusters``, one per K. Defaults to None:
            ``k<K>``.
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
        self.method = method
        self.label_sets = make_label_sets(num_clusters, task_name,
                                          task_names)
        if int(num_full_iters) < 0:
            raise ValueError('ClusterFitHook: num_full_iters must be >= 0, '
                             f'got {num_full_iters}')
        self.pretrained_config = pretrained_config
        self.pretrained_checkpoint = pretrained_checkpoint
        self.checkpoint = pretrained_checkpoint  # resolved in _check_config
        self.multi_k = not isinstance(num_clusters, (int, np.integer))
        ks = [ls.num_clusters for ls in self.label_sets]
        self.num_clusters = ks if self.multi_k else ks[0]
        self.layer = layer
        self.num_iters = int(num_iters)
        self.seed = int(seed)
        self.backend = backend
        self.spherical = bool(spherical)
        self.max_train_points = max_train_points
        self.num_full_iters = int(num_full_iters)
        # N_pre's files are read when training starts, not here: testing or
        # validating an N_cf config builds this hook too, and needs no N_pre.
        self._extract_pipeline = None
        self.pipeline_source = 'ClusterFitHook.extract_pipeline'
        if extract_pipeline is not None:
            self._extract_pipeline = [dict(t) for t in extract_pipeline]
        self.batch_size = batch_size
        self.num_workers = num_workers
        self.feature_dtype = feature_dtype
        self.keep_features = keep_features
        self.task_name = task_name
        self.labels_ready = False
        self._locks: List[DirLock] = []

    @property
    def extract_pipeline(self) -> List[dict]:
        """The extraction pipeline: the given one, else N_pre's own test
        pipeline (read from ``pretrained_config`` on first use)."""
        if self._extract_pipeline is None:
            self._check_pretrained_files()
            pipeline, self.pipeline_source = extraction_pipeline(
                self.pretrained_config)
            self._extract_pipeline = [dict(t) for t in pipeline]
        return self._extract_pipeline

    def _check_pretrained_files(self) -> None:
        for name, path in (('pretrained_config', self.pretrained_config),
                           ('pretrained_checkpoint',
                            self.pretrained_checkpoint)):
            if not osp.isfile(path):
                raise FileNotFoundError(f'ClusterFitHook: {name} not found: '
                                        f'{path}')

    @property
    def task(self) -> str:
        """Name of the (first) label set in file paths and scalar names."""
        return self.label_sets[0].task

    # ------------------------------------------------------------ entry points
    def before_run(self, runner) -> None:
        # Runner.train() has built its train loop at this point; val() and
        # test() leave it a config and need no labels.
        if isinstance(getattr(runner, '_train_loop', None), BaseLoop):
            self.prepare_labels(runner)

    def before_train(self, runner) -> None:
        # For loops driven without Runner.train() (before_run not called).
        self.prepare_labels(runner)

    def prepare_labels(self, runner) -> None:
        """Check, extract, cluster (or reuse) and publish the labels."""
        if self.labels_ready:
            return
        dataset = find_pseudo_label_dataset(runner.train_dataloader.dataset)
        self._check_config(runner, dataset)
        for label_set in self.label_sets:
            label_set.out_dir = osp.join(runner.work_dir, 'clusterfit',
                                         label_set.task)
            os.makedirs(label_set.out_dir, exist_ok=True)
        with preserved_rng_state():
            labels = self._load_or_cluster(runner, dataset)
        self._publish_labels(runner, dataset, labels)
        for label_set, task_labels in zip(self.label_sets, labels):
            self._log_statistics(runner, dataset, label_set, task_labels)
        self.labels_ready = True

    # ------------------------------------------------------------------ steps
    def _check_config(self, runner, dataset: PseudoLabelDataset) -> None:
        """Stop before any extraction if K cannot work with the model or the
        dataset."""
        self._check_dataset_tasks(dataset)
        self._check_pretrained_files()
        # A run's last_checkpoint file stands for the checkpoint it names.
        self.checkpoint = resolve_checkpoint(self.pretrained_checkpoint)
        check_checkpoint_file(self.checkpoint,
                              'ClusterFitHook: pretrained_checkpoint')
        self._resume_from = resolve_resume_checkpoint(runner)
        check_num_clusters(
            get_ori_model(runner.model),
            [(ls.task_name, ls.num_clusters) for ls in self.label_sets],
            len(dataset), multi_task=self.multi_k,
            describe=lambda ls: f'ClusterFitHook: num_clusters={ls[1]}',
            other_k=lambda ls, value: f'num_clusters to {value}',
            who='ClusterFitHook: ')

    def _check_dataset_tasks(self, dataset: PseudoLabelDataset) -> None:
        """Every named label set must be a task of the dataset."""
        if self.multi_k and not set(self.task_names).issubset(
                dataset.task_names):
            raise ValueError(
                f'ClusterFitHook: num_clusters={self.num_clusters} makes the '
                f'tasks {self.task_names}, but the PseudoLabelDataset has '
                f'task_names={dataset.task_names}; set '
                f'train_dataloader.dataset.task_names={self.task_names} (and '
                "end its pipeline with PackMultiTaskInputs)")
        for label_set in self.label_sets:
            if label_set.task_name is not None:
                dataset._task_index(label_set.task_name)  # raises if unknown

    @property
    def task_names(self) -> List[Optional[str]]:
        """Task names of the label sets, in order."""
        return [label_set.task_name for label_set in self.label_sets]

    def _kmeans_settings(self) -> dict:
        """Keyword arguments of :func:`cf_mm.clustering.kmeans` besides K
        (and ``method`` when it is a baseline: it enters the fingerprint)."""
        settings = dict(
            num_iters=self.num_iters,
            seed=self.seed,
            backend=self.backend,
            spherical=self.spherical,
            max_train_points=self.max_train_points,
            num_full_iters=self.num_full_iters)
        if self.method != 'kmeans':
            settings['method'] = self.method
        return settings

    def _class_labels(self, dataset: PseudoLabelDataset) -> np.ndarray:
        """The wrapped dataset's labels, which the baselines cluster by."""
        labels = dataset.get_original_gt_labels()
        if labels is None or len(labels) != len(dataset):
            raise ValueError(
                f'ClusterFitHook: method={self.method!r} clusters by the '
                'class labels of the train dataset, but '
                f'{type(dataset.dataset).__name__} (wrapped by '
                'PseudoLabelDataset) has no labels (get_gt_labels()); use '
                "method='kmeans' or a labelled dataset")
        return np.asarray(labels)

    def _fingerprints(self, dataset: PseudoLabelDataset) -> List[dict]:
        """The fingerprint of each label set (checkpoint and dataset hashed
        once); with one K, exactly the single-K fingerprint."""
        shared = dict(
            checkpoint=osp.abspath(self.checkpoint),
            checkpoint_sha256=file_sha256(self.checkpoint),
            dataset_sha256=dataset_fingerprint(dataset.dataset),
            num_samples=len(dataset),
            layer=self.layer)
        rest = dict(
            extract_pipeline=self.extract_pipeline,
            **self._kmeans_settings(),
            **({} if self.method == 'kmeans' else dict(
                class_labels_sha256=hashlib.sha256(np.ascontiguousarray(
                    self._class_labels(dataset)).tobytes()).hexdigest())))
        return [dict(shared, num_clusters=label_set.num_clusters, **rest)
                for label_set in self.label_sets]

    def _load_or_cluster(self, runner,
                         dataset: PseudoLabelDataset) -> List[np.ndarray]:
        """The labels of every label set on every rank: reused when the
        fingerprint matches, else extracted (once for all K) on every rank
        and clustered on rank 0.

        The output directories are locked for the rest of the run (a second
        run there stops, naming this one). A resumed run never replaces the
        labels its checkpoint was trained on: changed settings stop it.
        """
        try:
            for label_set in self.label_sets:
                self._lock_out_dir(label_set.out_dir)
            return self._load_or_cluster_locked(runner, dataset)
        except BaseException:
            self._release_lock()
            raise

    def _reuse_decision(self, runner, label_set: LabelSet,
                        fingerprint: dict) -> Tuple[Optional[np.ndarray],
                                                    str]:
        """Rank 0: ``(saved labels, 'reuse')``, ``(None, 'cluster')`` or
        ``(None, <why a resume must stop>)`` for one label set."""
        out_dir = label_set.out_dir
        resume_from = getattr(self, '_resume_from', None)
        saved = check_saved_labels(out_dir, fingerprint)
        if saved.labels is not None:
            return saved.labels, 'reuse'
        if resume_from is not None and saved.changes:
            return None, resume_refusal(resume_from, out_dir, saved.changes)
        if saved.fingerprint is not None:
            runner.logger.warning(
                f'ClusterFit: not reusing the labels in {out_dir} '
                f'({saved.problem}); clustering again')
        return None, 'cluster'

    def _load_or_cluster_locked(
            self, runner, dataset: PseudoLabelDataset) -> List[np.ndarray]:
        # Only rank 0 decides on reuse and writes files: hash only there.
        count = len(self.label_sets)
        fingerprints, labels = [None] * count, [None] * count
        decisions = ['cluster'] * count
        if is_main_process():
            fingerprints = self._fingerprints(dataset)
            for i, label_set in enumerate(self.label_sets):
                labels[i], decisions[i] = self._reuse_decision(
                    runner, label_set, fingerprints[i])
        broadcast_object_list(decisions, src=0)
        for decision in decisions:
            if decision not in ('reuse', 'cluster'):
                raise RuntimeError(decision)
        todo = [i for i, d in enumerate(decisions) if d == 'cluster']
        for i, label_set in enumerate(self.label_sets):
            if i not in todo:
                runner.logger.info(f'ClusterFit: reusing labels in '
                                   f'{label_set.out_dir} (same fingerprint)')
        if todo:
            self._extract_and_cluster(runner, dataset, todo, fingerprints,
                                      labels)
        return [self._broadcast_labels(task_labels, len(dataset))
                for task_labels in labels]

    def _extract_and_cluster(self, runner, dataset: PseudoLabelDataset,
                             todo: List[int], fingerprints: List[dict],
                             labels: List[Optional[np.ndarray]]) -> None:
        """One extraction (every rank; into the first clustered label set's
        ``features``), then the label sets ``todo`` clustered on rank 0
        into ``labels``; a failure on rank 0 stops every rank."""
        feat_dir = osp.join(self.label_sets[todo[0]].out_dir, 'features')
        store = self._extract(runner, dataset, feat_dir)
        resume_from = getattr(self, '_resume_from', None)
        failure, message = None, [None]
        if is_main_process():
            try:
                check_store_covers(store, len(dataset), 'the train dataset')
                for i in todo:
                    labels[i] = self._cluster(runner, store,
                                              self.label_sets[i],
                                              fingerprints[i])
                if not self.keep_features:
                    shutil.rmtree(feat_dir, ignore_errors=True)
                for i in todo if resume_from is not None else []:
                    check_checkpoint_labels(resume_from, labels[i],
                                            self.label_sets[i].task,
                                            self.label_sets[i].out_dir)
            except Exception as err:  # every rank stops, not only 0
                failure = err
                message = [f'{type(err).__name__}: {err}']
        # Instead of a barrier: the other ranks wait here for rank 0.
        broadcast_object_list(message, src=0)
        if failure is not None:
            raise failure
        if message[0] is not None:
            raise RuntimeError(f'ClusterFitHook failed on rank 0: '
                               f'{message[0]}')

    def _lock_out_dir(self, out_dir: str) -> None:
        """Lock ``out_dir`` on rank 0; every rank raises if that fails."""
        error = [None]
        if is_main_process():
            lock = DirLock(out_dir, 'ClusterFit labels')
            try:
                lock.acquire()
                self._locks.append(lock)
            except LockHeldError as err:
                error = [str(err)]
        broadcast_object_list(error, src=0)
        if error[0] is not None:
            raise LockHeldError(f'ClusterFitHook: {error[0]}')

    def _release_lock(self) -> None:
        while self._locks:
            self._locks.pop().release()

    def after_run(self, runner) -> None:
        self._release_lock()

    def _extract(self, runner, dataset: PseudoLabelDataset, feat_dir: str):
        """N_pre features of every sample (each rank its shard) -> store."""
        device = next(get_ori_model(runner.model).parameters()).device
        model = build_extraction_model(self.pretrained_config,
                                       self.checkpoint, device)
        view = DatasetView(dataset.dataset, self.extract_pipeline,
                           self.pipeline_source)
        check_model_input(
            model, view,
            pipeline=f'the extract_pipeline ({self.pipeline_source})',
            setting='`extract_pipeline` of ClusterFitHook')
        runner.logger.info(
            f'ClusterFit: extracting {self.layer} features of '
            f'{len(dataset)} samples from {self.checkpoint}')
        stores = extract_to_store(
            model, view, feat_dir,
            layers=(self.layer, ),
            batch_size=self.batch_size,
            num_workers=self.num_workers,
            dtype=self.feature_dtype)
        return stores[self.layer]

    def _cluster(self, runner, store, label_set: LabelSet,
                 fingerprint: dict) -> np.ndarray:
        """k-means (or a baseline) of one label set on rank 0; saves its
        labels, centroids and summary."""
        settings = self._kmeans_settings()
        method = settings.pop('method', 'kmeans')
        num = label_set.num_clusters
        runner.logger.info(
            f'ClusterFit: {method} K={num} on '
            f'{store.num_samples} x {store.dim} features (' +
            ', '.join(f'{k}={v}' for k, v in settings.items()) + ')')
        if method == 'kmeans':
            result = kmeans(store, num, verbose=True, logger=runner.logger,
                            **settings)
        else:
            labels = self._class_labels(find_pseudo_label_dataset(
                runner.train_dataloader.dataset))
            result = cluster(store.load(), method, num, labels, **settings)
        save_cluster_result(label_set.out_dir, result,
                            meta=dict(fingerprint=fingerprint))
        return result.labels

    @staticmethod
    def _broadcast_labels(labels: Optional[np.ndarray],
                          num_samples: int) -> np.ndarray:
        rank, _ = get_dist_info()
        if rank == 0:
            label_tensor = torch.from_numpy(np.asarray(labels, np.int64))
        else:
            label_tensor = torch.empty(num_samples, dtype=torch.int64)
        broadcast(label_tensor, src=0)
        return label_tensor.numpy()

    def _publish_labels(self, runner, dataset: PseudoLabelDataset,
                        labels: List[np.ndarray]) -> None:
        """Hand the labels to the dataset and to everything that read the
        dataset's metainfo or started workers before they existed."""
        for label_set, task_labels in zip(self.label_sets, labels):
            dataset.set_labels(task_labels, label_set.task_name,
                               source=osp.join(label_set.out_dir,
                                               'labels.npy'),
                               num_clusters=label_set.num_clusters)
        train_dataset = runner.train_dataloader.dataset
        if hasattr(train_dataset, 'metainfo'):
            # The train loop gave the visualizer the label-less metainfo.
            runner.visualizer.dataset_meta = train_dataset.metainfo
        restart_train_dataloader(runner)

    def _log_statistics(self, runner, dataset: PseudoLabelDataset,
                        label_set: LabelSet, labels: np.ndarray) -> None:
        """Cluster sizes, the k-means objective per iteration and NMI/ARI
        against the wrapped dataset's own labels: log lines, visualizer
        scalars ``clusterfit/<task>/...`` and message-hub info."""
        if not is_main_process():
            return
        with open(osp.join(label_set.out_dir, 'summary.json')) as f:
            summary = json.load(f)
        stats = dict(summary.get('stats', {}))
        stats.update(agreement_with_labels(
            labels, dataset.get_original_gt_labels()))
        prefix = f'clusterfit/{label_set.task}'
        print_log(
            f'ClusterFit ({label_set.task}): ' +
            ', '.join(f'{k}={v:.4g}' if isinstance(v, float) else f'{k}={v}'
                      for k, v in stats.items()),
            logger='current')
        visualizer = runner.visualizer
        visualizer.add_scalars(
            {f'{prefix}/{k}': v for k, v in stats.items()
             if isinstance(v, (int, float))}, step=0)
        for key in ('objective', 'full_objective'):
            for step, value in enumerate(summary.get(key, []), start=1):
                visualizer.add_scalars({f'{prefix}/kmeans_{key}': value},
                                       step=step)
        runner.message_hub.update_info(prefix, stats)


def agreement_with_labels(clusters: np.ndarray,
                          labels: Optional[np.ndarray]) -> dict:
    """NMI and ARI (scikit-learn's) of clusters against real labels.

    Args:
        clusters (np.ndarray): ``(N,)`` cluster ids.
        labels (np.ndarray, optional): ``(N,)`` integer class labels; None,
            multi-label or unlabelled (negative) entries give ``{}``.

    Returns:
        dict: ``{'nmi': float, 'ari': float}`` or ``{}``.
    """
    from sklearn.metrics import (adjusted_rand_score,
                                 normalized_mutual_info_score)
    if labels is None:
        return {}
    try:
        labels = np.asarray(labels)
    except ValueError:  # ragged multi-label lists
        return {}
    if (labels.shape != np.shape(clusters)
            or not np.issubdtype(labels.dtype, np.integer)
            or (labels.size and labels.min() < 0)):
        return {}
    return dict(nmi=float(normalized_mutual_info_score(labels, clusters)),
                ari=float(adjusted_rand_score(labels, clusters)))
