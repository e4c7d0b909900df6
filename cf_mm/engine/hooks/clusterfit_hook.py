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
import random
import shutil
from contextlib import contextmanager
from typing import Iterator, Optional, Sequence

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
from cf_mm.utils.lock import DirLock, LockHeldError
from cf_mm.utils.saved_labels import check_saved_labels
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


@contextmanager
def preserved_rng_state() -> Iterator[None]:
    """Restore the global torch (CPU and CUDA), numpy and Python RNG states
    on exit.

    Extraction draws from the global torch RNG (every DataLoader iteration
    takes a base seed from it); without this, N_cf's initial weights and
    data order would depend on whether the labels were clustered or reused.
    """
    np_state, py_state = np.random.get_state(), random.getstate()
    devices = list(range(torch.cuda.device_count())) \
        if torch.cuda.is_initialized() else []
    with torch.random.fork_rng(devices=devices):
        yield
    np.random.set_state(np_state)
    random.setstate(py_state)


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
    per label set for multi-task ClusterFit.

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
        pretrained_checkpoint (str): Checkpoint of N_pre.
        num_clusters (int): K. Must equal the head's ``num_classes`` (and
            ``data_preprocessor.num_classes`` when set). Defaults to 16000
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
            after clustering. Defaults to False.
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
    """

    priority = 'VERY_HIGH'

    def __init__(self,
                 pretrained_config: str,
                 pretrained_checkpoint: str,
                 num_clusters: int = 16000,
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
                 method: str = 'kmeans'):
        if method not in METHODS:
            raise ValueError(f'ClusterFitHook: unknown method {method!r}; '
                             f'use one of {METHODS}')
        self.method = method
        for name, path in (('pretrained_config', pretrained_config),
                           ('pretrained_checkpoint', pretrained_checkpoint)):
            if not osp.isfile(path):
                raise FileNotFoundError(f'ClusterFitHook: {name} not found: '
                                        f'{path}')
        if num_clusters < 2:
            raise ValueError(f'ClusterFitHook: num_clusters must be >= 2, got '
                             f'{num_clusters}')
        if int(num_full_iters) < 0:
            raise ValueError('ClusterFitHook: num_full_iters must be >= 0, '
                             f'got {num_full_iters}')
        self.pretrained_config = pretrained_config
        self.pretrained_checkpoint = pretrained_checkpoint
        self.num_clusters = int(num_clusters)
        self.layer = layer
        self.num_iters = int(num_iters)
        self.seed = int(seed)
        self.backend = backend
        self.spherical = bool(spherical)
        self.max_train_points = max_train_points
        self.num_full_iters = int(num_full_iters)
        if extract_pipeline is None:
            extract_pipeline, self.pipeline_source = extraction_pipeline(
                pretrained_config)
        else:
            self.pipeline_source = 'ClusterFitHook.extract_pipeline'
        self.extract_pipeline = [dict(t) for t in extract_pipeline]
        self.batch_size = batch_size
        self.num_workers = num_workers
        self.feature_dtype = feature_dtype
        self.keep_features = keep_features
        self.task_name = task_name
        self.labels_ready = False

    @property
    def task(self) -> str:
        """Name of this label set in file paths and scalar names."""
        return self.task_name or 'default'

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
        out_dir = osp.join(runner.work_dir, 'clusterfit', self.task)
        os.makedirs(out_dir, exist_ok=True)
        with preserved_rng_state():
            labels = self._load_or_cluster(runner, dataset, out_dir)
        self._publish_labels(runner, dataset, labels, out_dir)
        self._log_statistics(runner, dataset, labels, out_dir)
        self.labels_ready = True

    # ------------------------------------------------------------------ steps
    def _check_config(self, runner, dataset: PseudoLabelDataset) -> None:
        """Stop before any extraction if K cannot work with the model or the
        dataset."""
        if self.task_name is not None:
            dataset._task_index(self.task_name)  # raises on an unknown task
        check_checkpoint_file(self.pretrained_checkpoint,
                              'ClusterFitHook: pretrained_checkpoint')
        self._resume_from = resolve_resume_checkpoint(runner)
        if self.num_clusters > len(dataset):
            raise ValueError(
                f'ClusterFitHook: num_clusters={self.num_clusters} is larger '
                f'than the train dataset ({len(dataset)} samples); k-means '
                'needs at least one sample per cluster')
        for name, value in self._model_class_counts(runner).items():
            if value is not None and int(value) != self.num_clusters:
                raise ValueError(
                    f'ClusterFitHook: num_clusters={self.num_clusters} but '
                    f'{name}={value} in the training config; they must be '
                    f'equal (set {name} to {self.num_clusters}, or '
                    f'num_clusters to {value})')

    def _model_class_counts(self, runner) -> dict:
        """``{config key: num_classes}`` of the parts of N_cf that must
        equal K: the head (this task's head of a ``MultiTaskHead``) and,
        for a single task, the data preprocessor."""
        model = get_ori_model(runner.model)
        head = getattr(model, 'head', None)
        counts = {}
        task_heads = getattr(head, 'task_heads', None)
        if task_heads is not None:
            if self.task_name not in task_heads:
                raise ValueError(
                    f'ClusterFitHook: task_name={self.task_name!r} is not '
                    f'a task of model.head ({type(head).__name__} with '
                    f'tasks {list(task_heads)})')
            counts[f'model.head.task_heads.{self.task_name}.num_classes'] = \
                getattr(task_heads[self.task_name], 'num_classes', None)
        else:
            counts['model.head.num_classes'] = getattr(head, 'num_classes',
                                                       None)
            counts['data_preprocessor.num_classes'] = getattr(
                getattr(model, 'data_preprocessor', None), 'num_classes',
                None)
        return counts

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

    def _fingerprint(self, dataset: PseudoLabelDataset) -> dict:
        return dict(
            checkpoint=osp.abspath(self.pretrained_checkpoint),
            checkpoint_sha256=file_sha256(self.pretrained_checkpoint),
            dataset_sha256=dataset_fingerprint(dataset.dataset),
            num_samples=len(dataset),
            layer=self.layer,
            num_clusters=self.num_clusters,
            extract_pipeline=self.extract_pipeline,
            **self._kmeans_settings(),
            **({} if self.method == 'kmeans' else dict(
                class_labels_sha256=hashlib.sha256(np.ascontiguousarray(
                    self._class_labels(dataset)).tobytes()).hexdigest())))

    def _load_or_cluster(self, runner, dataset: PseudoLabelDataset,
                         out_dir: str) -> np.ndarray:
        """The labels on every rank: reused when the fingerprint matches,
        else extracted on every rank and clustered on rank 0.

        The output directory is locked for the rest of the run (a second
        run there stops, naming this one). A resumed run never replaces the
        labels its checkpoint was trained on: changed settings stop it.
        """
        self._lock_out_dir(out_dir)
        try:
            return self._load_or_cluster_locked(runner, dataset, out_dir)
        except BaseException:
            self._release_lock()
            raise

    def _load_or_cluster_locked(self, runner, dataset: PseudoLabelDataset,
                                out_dir: str) -> np.ndarray:
        # Only rank 0 decides on reuse and writes files: hash only there.
        fingerprint, labels, decision = None, None, ['cluster']
        resume_from = getattr(self, '_resume_from', None)
        if is_main_process():
            fingerprint = self._fingerprint(dataset)
            saved = check_saved_labels(out_dir, fingerprint)
            labels = saved.labels
            if labels is not None:
                decision = ['reuse']
            elif resume_from is not None and saved.changes:
                decision = [resume_refusal(resume_from, out_dir,
                                           saved.changes)]
            elif saved.fingerprint is not None:
                runner.logger.warning(
                    f'ClusterFit: not reusing the labels in {out_dir} '
                    f'({saved.problem}); clustering again')
        broadcast_object_list(decision, src=0)
        if decision[0] not in ('reuse', 'cluster'):
            raise RuntimeError(decision[0])
        if decision[0] == 'reuse':
            runner.logger.info(
                f'ClusterFit: reusing labels in {out_dir} (same fingerprint)')
        else:
            feat_dir = osp.join(out_dir, 'features')
            store = self._extract(runner, dataset, feat_dir)
            failure, message = None, [None]
            if is_main_process():
                try:
                    check_store_covers(store, len(dataset),
                                       'the train dataset')
                    labels = self._cluster(runner, store, out_dir,
                                           fingerprint)
                    if not self.keep_features:
                        shutil.rmtree(feat_dir, ignore_errors=True)
                    if resume_from is not None:
                        check_checkpoint_labels(resume_from, labels,
                                                self.task, out_dir)
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
        return self._broadcast_labels(labels, len(dataset))

    def _lock_out_dir(self, out_dir: str) -> None:
        """Lock ``out_dir`` on rank 0; every rank raises if that fails."""
        error = [None]
        if is_main_process():
            self._lock = DirLock(out_dir, 'ClusterFit labels')
            try:
                self._lock.acquire()
            except LockHeldError as err:
                error = [str(err)]
        broadcast_object_list(error, src=0)
        if error[0] is not None:
            raise LockHeldError(f'ClusterFitHook: {error[0]}')

    def _release_lock(self) -> None:
        lock = getattr(self, '_lock', None)
        if lock is not None:
            lock.release()

    def after_run(self, runner) -> None:
        self._release_lock()

    def _extract(self, runner, dataset: PseudoLabelDataset, feat_dir: str):
        """N_pre features of every sample (each rank its shard) -> store."""
        device = next(get_ori_model(runner.model).parameters()).device
        model = build_extraction_model(self.pretrained_config,
                                       self.pretrained_checkpoint, device)
        view = DatasetView(dataset.dataset, self.extract_pipeline,
                           self.pipeline_source)
        check_model_input(
            model, view,
            pipeline=f'the extract_pipeline ({self.pipeline_source})',
            setting='`extract_pipeline` of ClusterFitHook')
        runner.logger.info(
            f'ClusterFit: extracting {self.layer} features of '
            f'{len(dataset)} samples from {self.pretrained_checkpoint}')
        stores = extract_to_store(
            model, view, feat_dir,
            layers=(self.layer, ),
            batch_size=self.batch_size,
            num_workers=self.num_workers,
            dtype=self.feature_dtype)
        return stores[self.layer]

    def _cluster(self, runner, store, out_dir: str,
                 fingerprint: dict) -> np.ndarray:
        """k-means (or a baseline) on rank 0; saves labels, centroids and
        summary."""
        settings = self._kmeans_settings()
        method = settings.pop('method', 'kmeans')
        runner.logger.info(
            f'ClusterFit: {method} K={self.num_clusters} on '
            f'{store.num_samples} x {store.dim} features (' +
            ', '.join(f'{k}={v}' for k, v in settings.items()) + ')')
        if method == 'kmeans':
            result = kmeans(store, self.num_clusters, verbose=True,
                            logger=runner.logger, **settings)
        else:
            labels = self._class_labels(find_pseudo_label_dataset(
                runner.train_dataloader.dataset))
            result = cluster(store.load(), method, self.num_clusters, labels,
                             **settings)
        save_cluster_result(out_dir, result,
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
                        labels: np.ndarray, out_dir: str) -> None:
        """Hand the labels to the dataset and to everything that read the
        dataset's metainfo or started workers before they existed."""
        dataset.set_labels(labels, self.task_name,
                           source=osp.join(out_dir, 'labels.npy'),
                           num_clusters=self.num_clusters)
        train_dataset = runner.train_dataloader.dataset
        if hasattr(train_dataset, 'metainfo'):
            # The train loop gave the visualizer the label-less metainfo.
            runner.visualizer.dataset_meta = train_dataset.metainfo
        restart_train_dataloader(runner)

    def _log_statistics(self, runner, dataset: PseudoLabelDataset,
                        labels: np.ndarray, out_dir: str) -> None:
        """Cluster sizes, the k-means objective per iteration and NMI/ARI
        against the wrapped dataset's own labels: log lines, visualizer
        scalars ``clusterfit/<task>/...`` and message-hub info."""
        if not is_main_process():
            return
        with open(osp.join(out_dir, 'summary.json')) as f:
            summary = json.load(f)
        stats = dict(summary.get('stats', {}))
        stats.update(agreement_with_labels(
            labels, dataset.get_original_gt_labels()))
        prefix = f'clusterfit/{self.task}'
        print_log(
            f'ClusterFit ({self.task}): ' +
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
