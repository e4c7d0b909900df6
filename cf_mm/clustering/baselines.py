"""Clustering baselines that use the labels of D_cf (ClusterFit, paper 000).

* :func:`prototype_clusters` -- the *prototype* baseline (section 4.1,
  appendix A): K = number of classes, the centroid of class ``c`` is the mean
  of the features of every image carrying ``c`` (multi-label: an image counts
  for each of its labels), then every image gets the id of its nearest
  centroid. One assignment, no iterations.
* :func:`per_label_clusters` -- *per-label clustering* (section 5.2): the
  images of label ``l`` are k-means-clustered into ``k_l`` clusters, ``k_l``
  proportional to ``sqrt(n_l)`` (:func:`allocate_clusters`); ids are made
  unique across labels by offsetting label ``l``'s ids by ``k_0 + ... +
  k_{l-1}``.

Both take features as the extractor writes them (L2-normalised) and return a
:class:`~cf_mm.clustering.results.KMeansResult`, so their output is saved and
read exactly like k-means'. This module imports no mm* package.
"""
import time
from typing import Dict, List, Optional

import numpy as np

from .assign import assign
from .kmeans import kmeans
from .results import KMeansResult, size_stats_from_counts
from .sources import as_feature_source


def check_class_labels(labels, num_samples: int,
                       name: str = 'labels') -> np.ndarray:
    """Validate class labels of ``num_samples`` images.

    Args:
        labels (array-like): ``(N,)`` non-negative integer classes, or
            ``(N, C)`` multi-label targets in {0, 1}.
        num_samples (int): N, the number of feature rows.
        name (str): What ``labels`` is, for error messages (e.g. a file).

    Returns:
        np.ndarray: ``(N,)`` int64 or ``(N, C)`` bool.
    """
    labels = np.asarray(labels)
    if labels.ndim not in (1, 2) or labels.shape[0] != num_samples:
        raise ValueError(f'{name}: expected (N,) class ids or (N, C) 0/1 '
                         f'targets with N={num_samples}, got shape '
                         f'{labels.shape}')
    if labels.ndim == 1:
        if not np.issubdtype(labels.dtype, np.integer):
            raise ValueError(f'{name}: (N,) labels must be integers, got '
                             f'{labels.dtype}')
        if labels.size and labels.min() < 0:
            raise ValueError(f'{name}: negative class id {labels.min()}')
        return labels.astype(np.int64, copy=False)
    if not np.isin(labels, (0, 1)).all():
        raise ValueError(f'{name}: (N, C) multi-label targets must be 0 or '
                         f'1, found {np.unique(labels)[:5].tolist()}')
    return labels.astype(bool)


def class_members(labels: np.ndarray) -> List[np.ndarray]:
    """Sorted row indices of the images of every class (multi-label: per
    column).

    Classes are ``0 .. max`` for ``(N,)`` labels, the columns for ``(N, C)``.
    """
    if labels.ndim == 1:
        order = np.argsort(labels, kind='stable')
        bounds = np.searchsorted(labels[order],
                                 np.arange(int(labels.max()) + 2))
        return [order[lo:hi] for lo, hi in zip(bounds[:-1], bounds[1:])]
    return [np.flatnonzero(column) for column in labels.T]


def _require_nonempty(members: List[np.ndarray], name: str) -> None:
    empty = [c for c, idx in enumerate(members) if len(idx) == 0]
    if empty:
        raise ValueError(f'{name}: classes {empty[:10]} have no image; every '
                         'class needs at least one (renumber the classes)')


def _result(centroids, labels, dists, backend, tic, num_train) -> KMeansResult:
    counts = np.bincount(labels, minlength=len(centroids))
    return KMeansResult(
        centroids=np.asarray(centroids, dtype=np.float32),
        labels=labels.astype(np.int64),
        objective=[],
        final_objective=float(np.sum(dists, dtype=np.float64)),
        stats=size_stats_from_counts(counts),
        num_train_points=num_train,
        backend=backend,
        timings=dict(total=time.perf_counter() - tic))


def class_means(features, members: List[np.ndarray],
                chunk_size: int = 65536) -> np.ndarray:
    """``(C, D)`` float32 mean feature of every class, accumulated in float64.

    Args:
        features (np.ndarray): ``(N, D)`` features (may be an ``np.memmap``).
        members (list[np.ndarray]): Sorted row indices of each class.
        chunk_size (int): Rows read at a time.
    """
    dim = features.shape[1]
    sums = np.zeros((len(members), dim), dtype=np.float64)
    for c, idx in enumerate(members):
        for start in range(0, len(idx), chunk_size):
            rows = idx[start:start + chunk_size]
            sums[c] += np.asarray(features[rows], dtype=np.float64).sum(0)
    counts = np.array([len(idx) for idx in members], dtype=np.float64)
    return (sums / counts[:, None]).astype(np.float32)


def prototype_clusters(features,
                       labels,
                       spherical: bool = False,
                       backend: str = 'auto',
                       chunk_size: int = 65536,
                       **assign_kwargs) -> KMeansResult:
    """The prototype baseline: nearest class centroid, one assignment.

    Args:
        features (np.ndarray): ``(N, D)`` L2-normalised features.
        labels (array-like): ``(N,)`` class ids or ``(N, C)`` 0/1 targets;
            K is the number of classes (``max + 1``, or ``C``), and every
            class needs at least one image.
        spherical (bool): L2-normalise the class means before the
            assignment (as spherical k-means does). Defaults to False: the
            paper averages the embeddings and assigns to the nearest mean.
        backend (str): Nearest-centroid backend of
            :func:`cf_mm.clustering.assign`.
        chunk_size (int): Rows per chunk.
        **assign_kwargs: Kernel options of :func:`cf_mm.clustering.assign`.

    Returns:
        KMeansResult: ``labels[i]`` is the class whose prototype is nearest
        to image ``i``; ``objective`` is empty (no iterations).
    """
    tic = time.perf_counter()
    source = as_feature_source(features)
    labels = check_class_labels(labels, source.num_samples)
    members = class_members(labels)
    _require_nonempty(members, 'prototype')
    centroids = class_means(features, members, chunk_size)
    if spherical:
        centroids /= np.linalg.norm(centroids, axis=1, keepdims=True)
    ids, dists = assign(features, centroids, chunk_size=chunk_size,
                        backend=backend, **assign_kwargs)
    return _result(centroids, ids, dists, backend, tic, source.num_samples)


def allocate_clusters(counts, num_clusters: int) -> np.ndarray:
    """Clusters per label, proportional to the square root of its size.

    Water-filling, then largest-remainder rounding:

    1. Quotas ``q_l = R * sqrt(n_l) / sum_j sqrt(n_j)`` over the labels not
       yet fixed, ``R`` = K minus the clusters of the fixed labels. Labels
       whose quota is below 1 are fixed at 1 (every label gets a cluster);
       if none is, labels whose quota exceeds ``n_l`` are fixed at ``n_l``
       (no more clusters than images). Repeat until no quota is out of
       bounds.
    2. Every free label gets ``floor(q_l)``; the clusters left go one each
       to the free labels with the largest ``q_l - floor(q_l)`` (ties to the
       lower label).

    So ``sum(k) == K``, ``1 <= k_l <= n_l``, and ``|k_l - q_l| < 1`` for
    every free label: among labels the bounds do not bind, ``k_l`` is
    ``sqrt(n_l)``-proportional up to rounding.

    Args:
        counts (array-like): ``(L,)`` images per label, each >= 1.
        num_clusters (int): K, with ``L <= K <= sum(counts)``.

    Returns:
        np.ndarray: ``(L,)`` int64 ``k_l``.
    """
    counts = np.asarray(counts, dtype=np.int64)
    if counts.ndim != 1 or counts.size == 0:
        raise ValueError(f'counts must be a non-empty 1-D array, got shape '
                         f'{counts.shape}')
    if counts.min() < 1:
        raise ValueError(f'every label needs at least one image, label '
                         f'{int(np.argmin(counts))} has {counts.min()}')
    num_clusters = int(num_clusters)
    if not len(counts) <= num_clusters <= counts.sum():
        raise ValueError(
            f'num_clusters={num_clusters} must lie between the number of '
            f'labels ({len(counts)}) and the number of images '
            f'({int(counts.sum())}): every label gets at least one cluster '
            'and no more clusters than images')
    roots = np.sqrt(counts.astype(np.float64))
    alloc = np.zeros(len(counts), dtype=np.int64)
    free = np.ones(len(counts), dtype=bool)
    while True:
        left = num_clusters - alloc[~free].sum()
        quota = np.zeros(len(counts))
        quota[free] = left * roots[free] / roots[free].sum()
        low, high = free & (quota < 1), free & (quota > counts)
        if low.any():
            alloc[low], free[low] = 1, False
        elif high.any():
            alloc[high], free[high] = counts[high], False
        else:
            break
    alloc[free] = np.floor(quota[free]).astype(np.int64)
    remainder = np.where(free, quota - alloc, -np.inf)
    # Stable sort: equal remainders keep label order.
    extra = num_clusters - alloc.sum()
    alloc[np.argsort(-remainder, kind='stable')[:extra]] += 1
    return alloc


def single_label_of(labels: np.ndarray, seed: int = 0) -> np.ndarray:
    """One class per image: ``(N,)`` labels as they are; for ``(N, C)``
    targets a seeded uniform pick among the image's positive labels (as
    the paper builds IG-Verb: "one hashtag/verb is randomly picked")."""
    if labels.ndim == 1:
        return labels
    num_pos = labels.sum(axis=1)
    if (num_pos == 0).any():
        raise ValueError(
            f'per_label: {int((num_pos == 0).sum())} images carry no label '
            f'(first: row {int(np.argmax(num_pos == 0))}); per-label '
            'clustering needs at least one label per image')
    rng = np.random.default_rng(seed)
    pick = rng.integers(0, num_pos)  # which positive label of each row
    cumulative = np.cumsum(labels, axis=1)
    return np.argmax(cumulative > pick[:, None], axis=1).astype(np.int64)


def per_label_clusters(features,
                       labels,
                       num_clusters: int,
                       seed: int = 0,
                       backend: str = 'auto',
                       spherical: bool = False,
                       **kmeans_kwargs) -> KMeansResult:
    """Per-label clustering: k-means inside each label, ``k_l ~ sqrt(n_l)``.

    Args:
        features (np.ndarray): ``(N, D)`` L2-normalised features.
        labels (array-like): ``(N,)`` class ids or ``(N, C)`` 0/1 targets.
            A multi-label image is clustered with one of its labels, picked
            uniformly at random with ``seed`` (:func:`single_label_of`).
            Classes ``0 .. max`` (or the C columns) must each have an image.
        num_clusters (int): K, the total over labels (see
            :func:`allocate_clusters`).
        seed (int): Seed of every per-label k-means and of the multi-label
            pick.
        backend (str): k-means backend.
        spherical (bool): Spherical k-means (see :func:`cf_mm.clustering.
            kmeans`). Defaults to False, as the ``kmeans`` tool's default.
        **kmeans_kwargs: Further options of :func:`cf_mm.clustering.kmeans`
            (``num_iters``, ``init``, ...), used for every label.

    Returns:
        KMeansResult: label ``l``'s clusters have ids ``offset_l ..
        offset_l + k_l - 1``, ``offset_l = k_0 + ... + k_{l-1}``; centroids
        in that order.
    """
    tic = time.perf_counter()
    source = as_feature_source(features)
    labels = single_label_of(check_class_labels(labels, source.num_samples),
                             seed)
    members = class_members(labels)
    _require_nonempty(members, 'per_label')
    alloc = allocate_clusters([len(m) for m in members], num_clusters)
    ids = np.empty(source.num_samples, dtype=np.int64)
    dists = np.empty(source.num_samples, dtype=np.float32)
    centroids = []
    offset = 0
    for idx, k in zip(members, alloc):
        part = np.asarray(features[idx], dtype=np.float32)
        if k == 1:
            centre = part.astype(np.float64).mean(0, keepdims=True)
            if spherical:
                centre /= np.linalg.norm(centre)
            local = np.zeros(len(part), dtype=np.int64)
            local_d = ((part - centre)**2).sum(1)
            centre = centre.astype(np.float32)
        else:
            res = kmeans(part, int(k), seed=seed, backend=backend,
                         spherical=spherical, **kmeans_kwargs)
            centre, local = res.centroids, res.labels
            local_d = ((part - centre[local])**2).sum(1)
        ids[idx] = local + offset
        dists[idx] = local_d
        centroids.append(centre)
        offset += int(k)
    return _result(np.concatenate(centroids), ids, dists, backend, tic,
                   source.num_samples)


def num_classes_of(labels: np.ndarray) -> int:
    """K of the prototype baseline: ``max + 1`` or the number of columns."""
    return int(labels.max()) + 1 if labels.ndim == 1 else labels.shape[1]


def cluster(features,
            method: str = 'kmeans',
            num_clusters: Optional[int] = None,
            labels=None,
            **kwargs) -> KMeansResult:
    """One entry point for the three ways to make ClusterFit pseudo-labels.

    Args:
        features (np.ndarray | FeatureStore): ``(N, D)`` features (a store
            only for ``'kmeans'``).
        method (str): ``'kmeans'`` (ClusterFit), ``'prototype'`` or
            ``'per_label'`` (the label-using baselines).
        num_clusters (int, optional): K; for ``'prototype'`` it is the
            number of classes and may be omitted (if given, it must match).
        labels (array-like, optional): Class labels, required by the
            baselines (see :func:`check_class_labels`).
        **kwargs: Options of :func:`cf_mm.clustering.kmeans`. The prototype
            baseline uses only ``spherical``, ``backend`` and
            ``chunk_size`` of them (it has no iterations or seed).

    Returns:
        KMeansResult: The clustering.
    """
    if method == 'kmeans':
        if num_clusters is None:
            raise ValueError("method 'kmeans' needs num_clusters")
        return kmeans(features, num_clusters, **kwargs)
    if method not in METHODS:
        raise ValueError(f'unknown clustering method {method!r}: use one of '
                         f'{METHODS}')
    if labels is None:
        raise ValueError(f"method {method!r} needs the class labels of the "
                         'clustered images')
    if not isinstance(features, np.ndarray):
        raise ValueError(f'method {method!r} needs the features as an (N, '
                         'D) array or .npy memory map')
    if method == 'per_label':
        if num_clusters is None:
            raise ValueError("method 'per_label' needs num_clusters")
        kwargs.pop('verbose', None)
        return per_label_clusters(features, labels, num_clusters, **kwargs)
    checked = check_class_labels(labels, len(features))
    if num_clusters is not None and num_clusters != num_classes_of(checked):
        raise ValueError(
            f"method 'prototype' makes one cluster per class: "
            f'num_clusters={num_clusters} but the labels have '
            f'{num_classes_of(checked)} classes')
    return prototype_clusters(
        features, checked, **{k: kwargs[k] for k in
                              ('spherical', 'backend', 'chunk_size')
                              if k in kwargs})


METHODS = ('kmeans', 'prototype', 'per_label')


def cluster_sweep(features, num_clusters_list, method: str = 'kmeans',
                  labels=None, **kwargs) -> Dict[int, KMeansResult]:
    """Several K from one set of features (one extraction, a K sweep).

    Args:
        features: As :func:`cluster`.
        num_clusters_list (Sequence[int]): The values of K, each distinct
            (``[None]`` for the prototype baseline, whose K is fixed).
        method (str): As :func:`cluster`.
        labels: As :func:`cluster`.
        **kwargs: As :func:`cluster` (the same seed for every K).

    Returns:
        dict: K (as given) -> :class:`KMeansResult`, in the order given.
    """
    num_clusters_list = [None if k is None else int(k)
                         for k in num_clusters_list]
    if len(set(num_clusters_list)) != len(num_clusters_list):
        raise ValueError(f'num_clusters lists a value twice: '
                         f'{num_clusters_list}')
    return {k: cluster(features, method, k, labels, **kwargs)
            for k in num_clusters_list}
