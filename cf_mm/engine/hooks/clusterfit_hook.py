"""ClusterFitHook: pseudo-labels from a pre-trained network, before training.

Data flow (one arrow per module):
N_pre checkpoint -> :func:`cf_mm.features.extract.extract_to_store` (every rank
its shard) -> :func:`cf_mm.clustering.kmeans` (rank 0) ->
``work_dir/clusterfit/<task>/labels.npy`` -> broadcast ->
:meth:`PseudoLabelDataset.set_labels` -> dataloader workers restarted.
"""
import hashlib
import json
import os
import os.path as osp
import shutil
from typing import Optional, Sequence

import numpy as np
import torch
from mmengine.dataset import InfiniteSampler
from mmengine.dist import barrier, broadcast, get_dist_info, is_main_process
from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmengine.runner.loops import _InfiniteDataloaderIterator
from mmpretrain.registry import HOOKS

from cf_mm.clustering import kmeans, load_labels, save_cluster_result
from cf_mm.datasets.pseudo_label import (DatasetView, PseudoLabelDataset,
                                         dataset_fingerprint)
from cf_mm.features.extract import build_extraction_model, extract_to_store

# Deterministic ImageNet evaluation pipeline (mmpretrain's resnet50 test one).
DEFAULT_EXTRACT_PIPELINE = (
    dict(type='LoadImageFromFile'),
    dict(type='ResizeEdge', scale=256, edge='short'),
    dict(type='CenterCrop', crop_size=224),
    dict(type='PackInputs'),
)


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


@HOOKS.register_module()
class ClusterFitHook(Hook):
    """Cluster the features of a pre-trained network into pseudo-labels.

    Before training, the hook extracts ``layer`` features of N_pre over the
    train dataset (with a deterministic pipeline), clusters them with
    k-means into ``num_clusters`` groups and hands the cluster ids to the
    :class:`PseudoLabelDataset` of the train dataloader. Labels, centroids
    and ``summary.json`` (with the fingerprint of checkpoint, dataset, layer,
    K and seed) go to ``work_dir/clusterfit/<task_name>``; a rerun or
    ``--resume`` with the same fingerprint reuses them instead of clustering
    again. Use one hook per label set for multi-task ClusterFit.

    Args:
        pretrained_config (str): Config file of N_pre (its ``model`` field).
        pretrained_checkpoint (str): Checkpoint of N_pre.
        num_clusters (int): K. Defaults to 16000 (paper, section 4.2).
        layer (str): Layer to cluster: ``'res5'`` (paper) or ``'res4'``
            (appendix D), ``'conv1'`` ... or a backbone module name.
        num_iters (int): k-means iterations. Defaults to 20.
        seed (int): k-means seed. Defaults to 0.
        backend (str): k-means backend (``'auto'``, ``'faiss'``, ``'torch'``).
        max_train_points (int, optional): Train k-means on at most this many
            points, then assign every point. Defaults to None (all).
        extract_pipeline (Sequence[dict]): Deterministic pipeline applied to
            the raw samples of the train dataset for extraction.
        batch_size (int): Extraction batch size per GPU. Defaults to 64.
        num_workers (int): Extraction dataloader workers. Defaults to 2.
        feature_dtype (str): On-disk feature dtype. Defaults to 'float32'.
        keep_features (bool): Keep the extracted features in the work dir
            after clustering. Defaults to False.
        task_name (str, optional): Label set of a multi-task
            PseudoLabelDataset. Defaults to None (single task).
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
                 max_train_points: Optional[int] = None,
                 extract_pipeline: Sequence[dict] = DEFAULT_EXTRACT_PIPELINE,
                 batch_size: int = 64,
                 num_workers: int = 2,
                 feature_dtype: str = 'float32',
                 keep_features: bool = False,
                 task_name: Optional[str] = None):
        for name, path in (('pretrained_config', pretrained_config),
                           ('pretrained_checkpoint', pretrained_checkpoint)):
            if not osp.isfile(path):
                raise FileNotFoundError(f'ClusterFitHook: {name} not found: '
                                        f'{path}')
        if num_clusters < 2:
            raise ValueError(f'ClusterFitHook: num_clusters must be >= 2, got '
                             f'{num_clusters}')
        self.pretrained_config = pretrained_config
        self.pretrained_checkpoint = pretrained_checkpoint
        self.num_clusters = int(num_clusters)
        self.layer = layer
        self.num_iters = int(num_iters)
        self.seed = int(seed)
        self.backend = backend
        self.max_train_points = max_train_points
        self.extract_pipeline = [dict(t) for t in extract_pipeline]
        self.batch_size = batch_size
        self.num_workers = num_workers
        self.feature_dtype = feature_dtype
        self.keep_features = keep_features
        self.task_name = task_name

    def _fingerprint(self, dataset: PseudoLabelDataset) -> dict:
        return dict(
            checkpoint=osp.abspath(self.pretrained_checkpoint),
            checkpoint_sha256=file_sha256(self.pretrained_checkpoint),
            dataset_sha256=dataset_fingerprint(dataset.dataset),
            num_samples=len(dataset),
            layer=self.layer,
            num_clusters=self.num_clusters,
            num_iters=self.num_iters,
            seed=self.seed,
            backend=self.backend,
            max_train_points=self.max_train_points,
            extract_pipeline=self.extract_pipeline,
        )

    def _saved_labels(self, out_dir: str, fingerprint: dict
                      ) -> Optional[np.ndarray]:
        summary_file = osp.join(out_dir, 'summary.json')
        if not osp.isfile(summary_file):
            return None
        with open(summary_file) as f:
            saved = json.load(f).get('meta', {}).get('fingerprint')
        if saved != json.loads(json.dumps(fingerprint)):
            return None
        return load_labels(out_dir)

    def _cluster(self, runner, dataset: PseudoLabelDataset, out_dir: str,
                 fingerprint: Optional[dict]) -> Optional[np.ndarray]:
        """Extract on every rank, cluster on rank 0, save into ``out_dir``.

        Returns the labels on rank 0 and None on the other ranks.
        """
        device = next(runner.model.parameters()).device
        model = build_extraction_model(self.pretrained_config,
                                       self.pretrained_checkpoint, device)
        feat_dir = osp.join(out_dir, 'features')
        runner.logger.info(
            f'ClusterFit: extracting {self.layer} features of '
            f'{len(dataset)} samples from {self.pretrained_checkpoint}')
        stores = extract_to_store(
            model,
            DatasetView(dataset.dataset, self.extract_pipeline),
            feat_dir,
            layers=(self.layer, ),
            batch_size=self.batch_size,
            num_workers=self.num_workers,
            dtype=self.feature_dtype)
        del model
        labels = None
        if is_main_process():
            runner.logger.info(
                f'ClusterFit: k-means K={self.num_clusters} on '
                f'{stores[self.layer].num_samples} x {stores[self.layer].dim} '
                f'features ({self.num_iters} iterations, seed {self.seed})')
            result = kmeans(
                stores[self.layer],
                self.num_clusters,
                num_iters=self.num_iters,
                seed=self.seed,
                backend=self.backend,
                max_train_points=self.max_train_points,
                verbose=True,
                logger=runner.logger)
            save_cluster_result(out_dir, result,
                                meta=dict(fingerprint=fingerprint))
            labels = result.labels
            if not self.keep_features:
                shutil.rmtree(feat_dir, ignore_errors=True)
        barrier()
        return labels

    def before_train(self, runner) -> None:
        dataset = find_pseudo_label_dataset(runner.train_dataloader.dataset)
        out_dir = osp.join(runner.work_dir, 'clusterfit',
                           self.task_name or 'default')
        os.makedirs(out_dir, exist_ok=True)
        # Only rank 0 decides on reuse and writes files: hash only there.
        fingerprint, labels = None, None
        if is_main_process():
            fingerprint = self._fingerprint(dataset)
            labels = self._saved_labels(out_dir, fingerprint)
        reuse = torch.tensor([int(labels is not None)])
        broadcast(reuse, src=0)
        if reuse.item():
            runner.logger.info(
                f'ClusterFit: reusing labels in {out_dir} (same fingerprint)')
        else:
            labels = self._cluster(runner, dataset, out_dir, fingerprint)

        rank, _ = get_dist_info()
        if rank == 0:
            label_tensor = torch.from_numpy(np.asarray(labels, np.int64))
        else:
            label_tensor = torch.empty(len(dataset), dtype=torch.int64)
        broadcast(label_tensor, src=0)
        dataset.set_labels(label_tensor.numpy(), self.task_name,
                           source=osp.join(out_dir, 'labels.npy'))
        self._log_summary(runner, out_dir)
        restart_train_dataloader(runner)

    def _log_summary(self, runner, out_dir: str) -> None:
        if not is_main_process():
            return
        with open(osp.join(out_dir, 'summary.json')) as f:
            summary = json.load(f)
        stats = summary.get('stats', {})
        print_log(
            'ClusterFit: cluster sizes ' +
            ', '.join(f'{k}={v:g}' if isinstance(v, (int, float)) else
                      f'{k}={v}' for k, v in stats.items()),
            logger='current')
        runner.message_hub.update_info(
            f'clusterfit/{self.task_name or "default"}', stats)
