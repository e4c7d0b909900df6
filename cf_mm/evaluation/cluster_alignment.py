"""Cluster alignment (CA) evaluation of CompRess (sec. 4.1).

k-means on the (L2-normalised) train features with k = number of classes;
the alignment of cluster c with class y is the precision
``|cluster c and class y| / |cluster c|``; clusters are mapped one-to-one to
classes by the Hungarian algorithm maximising the total alignment; test
samples take the class of their nearest centroid; the score is the test
accuracy. When k differs from the number of classes, the clusters left
unmatched predict no class (their samples count as errors).
"""
import logging
from typing import Dict, Optional

import numpy as np
from scipy.optimize import linear_sum_assignment

from cf_mm.clustering import assign, kmeans

from .knn import _check_features, _check_labels, l2_normalize

logger = logging.getLogger(__name__)


def alignment_matrix(cluster_ids: np.ndarray, labels: np.ndarray,
                     num_clusters: int, num_classes: int) -> np.ndarray:
    """``(num_clusters, num_classes)`` precision of each cluster/class pair.

    Args:
        cluster_ids (np.ndarray): ``(N,)`` cluster of each sample.
        labels (np.ndarray): ``(N,)`` class of each sample.
        num_clusters (int): Number of clusters.
        num_classes (int): Number of classes.

    Returns:
        np.ndarray: Row c is the class distribution of cluster c (zeros for
        an empty cluster).
    """
    counts = np.zeros((num_clusters, num_classes), dtype=np.float64)
    np.add.at(counts, (cluster_ids, labels), 1.0)
    sizes = counts.sum(axis=1, keepdims=True)
    return np.divide(counts, sizes, out=np.zeros_like(counts),
                     where=sizes > 0)


def match_clusters_to_classes(alignment: np.ndarray) -> np.ndarray:
    """Hungarian one-to-one mapping maximising the total alignment.

    Args:
        alignment (np.ndarray): ``(num_clusters, num_classes)`` scores.

    Returns:
        np.ndarray: ``(num_clusters,)`` class of each cluster, -1 for
        clusters left unmatched (more clusters than classes).
    """
    rows, cols = linear_sum_assignment(alignment, maximize=True)
    mapping = np.full(alignment.shape[0], -1, dtype=np.int64)
    mapping[rows] = cols
    return mapping


def cluster_alignment(train_feats: np.ndarray,
                      train_labels: np.ndarray,
                      test_feats: np.ndarray,
                      test_labels: np.ndarray,
                      num_clusters: Optional[int] = None,
                      num_classes: Optional[int] = None,
                      niter: int = 50,
                      nredo: int = 1,
                      seed: int = 0) -> Dict:
    """Cluster-alignment accuracy of features.

    Args:
        train_feats (np.ndarray): ``(N, D)`` features clustered by k-means.
        train_labels (np.ndarray): ``(N,)`` classes, used only to map
            clusters to classes.
        test_feats (np.ndarray): ``(M, D)`` evaluation features.
        test_labels (np.ndarray): ``(M,)`` evaluation classes.
        num_clusters (int, optional): k; defaults to the number of classes.
        num_classes (int, optional): Defaults to the largest label + 1.
        niter (int): k-means iterations.
        nredo (int): k-means restarts (the best objective is kept).
        seed (int): k-means seed.

    Returns:
        dict: ``accuracy`` (percent), ``train_accuracy`` (percent, on the
        clustered set), ``mapping`` (class per cluster) and ``alignment``
        (mean precision of the matched pairs, percent).
    """
    train_feats = _check_features(train_feats, 'train_feats')
    test_feats = _check_features(test_feats, 'test_feats')
    train_labels = _check_labels(train_labels, len(train_feats),
                                 'train_labels')
    test_labels = _check_labels(test_labels, len(test_feats), 'test_labels')
    if num_classes is None:
        num_classes = int(max(train_labels.max(), test_labels.max())) + 1
    if num_clusters is None:
        num_clusters = num_classes
    if not 2 <= num_clusters <= len(train_feats):
        raise ValueError(f'num_clusters={num_clusters} must be in [2, '
                         f'{len(train_feats)}] (number of train samples)')
    train_x = l2_normalize(train_feats)
    # The project's k-means (faiss underneath); restarts keep the best fit.
    fits = [
        kmeans(train_x, num_clusters, num_iters=niter, seed=seed + redo)
        for redo in range(nredo)
    ]
    best = min(fits, key=lambda fit: fit.final_objective)
    logger.info('cluster alignment: k-means with k=%d on %d samples done',
                num_clusters, len(train_x))
    train_ids = best.labels
    test_ids, _ = assign(l2_normalize(test_feats), best.centroids)
    alignment = alignment_matrix(train_ids, train_labels, num_clusters,
                                 num_classes)
    mapping = match_clusters_to_classes(alignment)
    matched = mapping >= 0
    return dict(
        accuracy=float((mapping[test_ids] == test_labels).mean() * 100),
        train_accuracy=float(
            (mapping[train_ids] == train_labels).mean() * 100),
        mapping=mapping.tolist(),
        alignment=float(alignment[matched, mapping[matched]].mean() * 100))
