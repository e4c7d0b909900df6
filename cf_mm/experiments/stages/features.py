"""Stages on frozen features: extraction and the clustering step.

* ``extract``: a network (config + checkpoint, or random init) over the
  datasets of a data config, deterministic pipeline -> ``features`` (a
  folder of ``<split>_<layer>.npy`` and ``<split>_labels.npy``).
* ``cluster``: the offline ClusterFit step on extracted features, k-means
  or a label-using baseline, one or several K from one extraction ->
  ``clusters`` (K -> folder with ``labels.npy`` / ``summary.json``).
"""
import os
import os.path as osp
from typing import Optional, Sequence, Union

import numpy as np

from ..registry import STAGES


def feature_file(features: str, split: str, layer: str) -> str:
    """Path of one layer's features of one split in an ``extract`` folder."""
    path = osp.join(features, f'{split}_{layer}.npy')
    if not osp.isfile(path):
        raise FileNotFoundError(f'features not found: {path} (extract that '
                                'split and layer first)')
    return path


def label_file(features: str, split: str, clean: bool = False) -> str:
    """Path of the labels of one split in an ``extract`` folder."""
    name = f'{split}_clean_labels.npy' if clean else f'{split}_labels.npy'
    path = osp.join(features, name)
    if not osp.isfile(path):
        raise FileNotFoundError(f'labels not found: {path}')
    return path


def extracted_layers(features: str, split: str = 'train') -> list:
    """The layers an ``extract`` folder holds for ``split``, shallow first."""
    from cf_mm.evaluation.report import LAYER_ORDER
    prefix = f'{split}_'
    names = [f[len(prefix):-4] for f in os.listdir(features)
             if f.startswith(prefix) and f.endswith('.npy')]
    names = [n for n in names if n not in ('labels', 'clean_labels')]
    if not names:
        raise FileNotFoundError(f'no {split} features in {features}')
    return sorted(names, key=lambda n: (LAYER_ORDER.index(n)
                                        if n in LAYER_ORDER else 99, n))


def _as_list(value: Union[str, Sequence[str]]) -> list:
    if isinstance(value, str):
        return [v.strip() for v in value.split(',') if v.strip()]
    return list(value)


@STAGES.register_module('extract')
def extract_stage(ctx,
                  config: str,
                  checkpoint: Optional[str] = None,
                  data_config: Optional[str] = None,
                  data_options: Optional[dict] = None,
                  splits: Sequence[str] = ('train', 'test'),
                  layers: Union[str, Sequence[str]] = ('res5', ),
                  pooling: str = 'global',
                  target_dims: int = 9000,
                  dtype: str = 'float16',
                  batch_size: int = 256,
                  num_workers: int = 2,
                  seed: int = 0,
                  l2_normalize: bool = True) -> dict:
    """Extract pooled layer features of every image of some splits.

    Args:
        ctx (StageContext): The stage's context.
        config (str): The network's config (``model``).
        checkpoint (str, optional): Its weights; None keeps a random
            initialisation drawn with ``seed``.
        data_config (str, optional): Config whose ``<split>_dataloader``
            datasets give the images (under its test pipeline); default
            ``config``.
        data_options (dict, optional): Dotted-key overrides of the data
            config (e.g. annotation files).
        splits (Sequence[str]): Dataloaders to extract (``train``, ``val``,
            ``test``).
        layers (str | Sequence[str]): Layers (``res2`` ... ``res5``).
        pooling (str): ``'global'`` (global average, L2-normalised, what
            ClusterFit clusters) or ``'probe'`` (each layer average-pooled
            to about ``target_dims`` dims, as the linear probes see it).
        target_dims (int): See ``pooling``.
        dtype (str): On-disk dtype (``float16`` halves the disk use).
        batch_size (int): Images per forward pass.
        num_workers (int): Dataloader workers.
        seed (int): Seed of a random initialisation.
        l2_normalize (bool): L2-normalise each pooled feature (default;
            False stores the raw pooled features, what a Runner probe's
            linear head sees).

    Returns:
        dict: ``features`` (folder), ``layers``, ``splits``, ``dims``
        (layer -> feature dimension), ``num`` (split -> images).
    """
    import torch
    from mmengine.config import Config
    from mmengine.registry import init_default_scope

    from cf_mm.evaluation.inputs import extract_split
    from cf_mm.features.extract import build_extraction_model

    layers = _as_list(layers)
    data_cfg = Config.fromfile(data_config or config)
    if data_options:
        data_cfg.merge_from_dict(data_options)
    init_default_scope(data_cfg.get('default_scope', 'mmpretrain'))
    if checkpoint is None:
        torch.manual_seed(seed)
    model = build_extraction_model(config, checkpoint, 'cpu')
    outputs = dict(features=ctx.work_dir, layers=layers, splits=list(splits),
                   dims={}, num={})
    for split in splits:
        feats, labels = extract_split(model, data_cfg, split, layers,
                                      batch_size, num_workers, pooling,
                                      target_dims, l2_normalize)
        for layer, array in feats.items():
            np.save(ctx.path(f'{split}_{layer}.npy'), array.astype(dtype))
            outputs['dims'][layer] = int(array.shape[1])
        # Label wrappers (NoisyLabelDataset, PseudoLabelDataset) are looked
        # through: these are the images' own (clean) labels.
        np.save(ctx.path(f'{split}_labels.npy'), labels)
        outputs['num'][split] = int(len(labels))
    return outputs


@STAGES.register_module('cluster')
def cluster_stage(ctx,
                  features: str,
                  num_clusters: Union[int, Sequence[int], None] = None,
                  method: str = 'kmeans',
                  layer: str = 'res5',
                  split: str = 'train',
                  labels: Optional[str] = None,
                  seed: int = 0,
                  num_iters: int = 20,
                  spherical: bool = False,
                  **kmeans_options) -> dict:
    """Cluster extracted features into pseudo-labels (one folder per K).

    Args:
        ctx (StageContext): The stage's context.
        features (str): An ``extract`` stage's folder.
        num_clusters (int | Sequence[int], optional): K, or several (a K
            sweep on the same features). Not needed for ``'prototype'``.
        method (str): ``'kmeans'``, ``'prototype'`` or ``'per_label'``.
        layer (str): Which extracted layer.
        split (str): Which extracted split (the clustered dataset, D_cf).
        labels (str, optional): Class labels of the baselines: a ``.npy``
            file; default the split's labels as extracted (for a noisy-label
            dataset: the noisy labels N_pre was trained on).
        seed (int): k-means seed.
        num_iters (int): k-means iterations.
        spherical (bool): Spherical k-means (default off: the paper
            L2-normalises features, then runs k-means).
        **kmeans_options: Further :func:`cf_mm.clustering.kmeans` options.

    Returns:
        dict: ``clusters`` (str(K) -> folder), and ``labels`` (the folder of
        the first K, for the common one-K case).
    """
    from cf_mm.clustering import cluster_sweep, save_cluster_result
    from cf_mm.evaluation.feature_metrics import clustering_agreement

    feats = np.load(feature_file(features, split, layer)).astype(np.float32)
    class_labels = None
    if method != 'kmeans':
        class_labels = np.load(labels or label_file(features, split))
    ks = [num_clusters] if not isinstance(num_clusters, (list, tuple)) \
        else list(num_clusters)
    results = cluster_sweep(feats, ks, method=method, labels=class_labels,
                            seed=seed, num_iters=num_iters,
                            spherical=spherical, **kmeans_options)
    truth_file = osp.join(features, f'{split}_clean_labels.npy')
    if not osp.isfile(truth_file):
        truth_file = osp.join(features, f'{split}_labels.npy')
    truth = np.load(truth_file) if osp.isfile(truth_file) else None
    clusters = {}
    for k, result in zip(ks, results.values()):
        out_dir = ctx.path(f'k{result.num_clusters}')
        meta = dict(features=features, layer=layer, split=split,
                    method=method, seed=seed, spherical=spherical)
        if truth is not None and truth.ndim == 1:
            meta['agreement'] = clustering_agreement(result.labels, truth)
            meta['agreement_labels'] = truth_file
        save_cluster_result(out_dir, result, meta=meta)
        clusters[str(result.num_clusters)] = out_dir
    return dict(clusters=clusters, labels=next(iter(clusters.values())))
