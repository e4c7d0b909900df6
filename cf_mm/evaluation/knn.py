"""k-nearest-neighbour classification on frozen features (cosine, faiss).

Two voting rules:

* ``'majority'``: each of the k neighbours casts one vote; ties go to the
  class with the larger summed similarity. ``k=1`` is the nearest-neighbour
  (NN) evaluation of CompRess (sec. 4.1).
* ``'weighted'``: neighbour j adds ``exp(s_j / T)`` to its class, the
  weighted kNN of Wu et al. 2018 (k=200, T=0.07), common in SSL papers.

Features are L2-normalised here, so inner product = cosine similarity. The
train features live in one exact faiss index; test features are searched in
chunks, so memory beyond the index is ``chunk_size x (k + num_classes)``.
"""
import logging
from typing import Dict, Optional, Sequence, Tuple

import faiss
import numpy as np

logger = logging.getLogger(__name__)


def l2_normalize(feats: np.ndarray, eps: float = 1e-12) -> np.ndarray:
    """Row-wise L2 normalisation to contiguous float32."""
    feats = np.asarray(feats, dtype=np.float32)
    norms = np.linalg.norm(feats, axis=1, keepdims=True)
    return np.ascontiguousarray(feats / np.maximum(norms, eps))


def _check_features(feats: np.ndarray, name: str) -> np.ndarray:
    feats = np.asarray(feats)
    if feats.ndim != 2 or feats.shape[0] == 0:
        raise ValueError(f'{name} must be a non-empty (N, D) array, got shape '
                         f'{feats.shape}')
    if not np.isfinite(feats).all():
        raise ValueError(f'{name} contains NaN or inf')
    return feats


def _check_labels(labels: np.ndarray, num: int, name: str) -> np.ndarray:
    labels = np.asarray(labels)
    if labels.shape != (num, ):
        raise ValueError(f'{name} must have shape ({num},), got '
                         f'{labels.shape}')
    if labels.size and (labels.min() < 0
                        or not np.issubdtype(labels.dtype, np.integer)):
        raise ValueError(f'{name} must be non-negative integers')
    return labels.astype(np.int64)


def vote(similarities: np.ndarray,
         neighbor_labels: np.ndarray,
         num_classes: int,
         weighting: str = 'weighted',
         temperature: float = 0.07) -> np.ndarray:
    """Class scores of queries from their neighbours.

    Args:
        similarities (np.ndarray): ``(Q, k)`` cosine similarities.
        neighbor_labels (np.ndarray): ``(Q, k)`` labels of the neighbours.
        num_classes (int): Number of classes.
        weighting (str): ``'weighted'`` or ``'majority'`` (see module doc).
        temperature (float): T of the weighted vote.

    Returns:
        np.ndarray: ``(Q, num_classes)`` scores; higher is better.
    """
    num_queries, k = neighbor_labels.shape
    rows = np.repeat(np.arange(num_queries), k)
    cols = neighbor_labels.reshape(-1)
    scores = np.zeros((num_queries, num_classes), dtype=np.float64)
    if weighting == 'weighted':
        # Subtracting the row max only rescales a row: same ranking, no
        # overflow of exp(1 / T) for small T.
        logits = similarities.astype(np.float64) / temperature
        logits -= logits.max(axis=1, keepdims=True)
        np.add.at(scores, (rows, cols), np.exp(logits).reshape(-1))
    elif weighting == 'majority':
        counts = np.zeros_like(scores)
        np.add.at(counts, (rows, cols), 1.0)
        summed = np.zeros_like(scores)
        np.add.at(summed, (rows, cols),
                  similarities.astype(np.float64).reshape(-1))
        # A summed similarity spans at most 2k, so this is the lexicographic
        # order (votes, summed similarity).
        scores = counts * (2 * k + 1) + summed
    else:
        raise ValueError(f"weighting must be 'weighted' or 'majority', got "
                         f'{weighting!r}')
    return scores


def knn_predict(train_feats: np.ndarray,
                train_labels: np.ndarray,
                test_feats: np.ndarray,
                k: int = 200,
                weighting: str = 'weighted',
                temperature: float = 0.07,
                num_classes: Optional[int] = None,
                chunk_size: int = 4096,
                topk: int = 5) -> Tuple[np.ndarray, np.ndarray]:
    """Top-``topk`` kNN predictions of every test sample.

    Args:
        train_feats (np.ndarray): ``(N, D)`` features of the labelled set.
        train_labels (np.ndarray): ``(N,)`` integer labels.
        test_feats (np.ndarray): ``(M, D)`` features to classify.
        k (int): Neighbours per query (clipped to N).
        weighting (str): ``'weighted'`` or ``'majority'``.
        temperature (float): T of the weighted vote.
        num_classes (int, optional): Defaults to ``max(train_labels) + 1``.
        chunk_size (int): Queries per faiss search.
        topk (int): How many ranked classes to return.

    Returns:
        tuple: ``(M, topk)`` predicted classes, best first, and the
        ``(M, topk)`` scores of these classes.
    """
    train_feats = _check_features(train_feats, 'train_feats')
    test_feats = _check_features(test_feats, 'test_feats')
    if train_feats.shape[1] != test_feats.shape[1]:
        raise ValueError(f'train_feats have {train_feats.shape[1]} dims, '
                         f'test_feats {test_feats.shape[1]}')
    train_labels = _check_labels(train_labels, len(train_feats),
                                 'train_labels')
    if k < 1:
        raise ValueError(f'k must be >= 1, got {k}')
    if temperature <= 0:
        raise ValueError(f'temperature must be > 0, got {temperature}')
    if num_classes is None:
        num_classes = int(train_labels.max()) + 1
    elif train_labels.max() >= num_classes:
        raise ValueError(f'train label {train_labels.max()} >= num_classes '
                         f'{num_classes}')
    k = min(k, len(train_feats))
    topk = min(topk, num_classes)

    index = faiss.IndexFlatIP(train_feats.shape[1])
    index.add(l2_normalize(train_feats))
    preds = np.empty((len(test_feats), topk), dtype=np.int64)
    pred_scores = np.empty((len(test_feats), topk), dtype=np.float64)
    for start in range(0, len(test_feats), chunk_size):
        stop = min(start + chunk_size, len(test_feats))
        sims, idx = index.search(l2_normalize(test_feats[start:stop]), k)
        scores = vote(sims, train_labels[idx], num_classes, weighting,
                      temperature)
        # Stable sort on the negated scores: equal scores keep class order.
        order = np.argsort(-scores, axis=1, kind='stable')[:, :topk]
        preds[start:stop] = order
        pred_scores[start:stop] = np.take_along_axis(scores, order, axis=1)
        logger.info('kNN (k=%d, %s): %d / %d queries', k, weighting, stop,
                    len(test_feats))
    return preds, pred_scores


def knn_accuracy(train_feats: np.ndarray,
                 train_labels: np.ndarray,
                 test_feats: np.ndarray,
                 test_labels: np.ndarray,
                 k: int = 200,
                 weighting: str = 'weighted',
                 temperature: float = 0.07,
                 topk: Sequence[int] = (1, 5),
                 num_classes: Optional[int] = None,
                 chunk_size: int = 4096) -> Dict[str, float]:
    """Top-k accuracy (in %) of kNN classification.

    Args:
        train_feats, train_labels, test_feats: See :func:`knn_predict`.
        test_labels (np.ndarray): ``(M,)`` integer labels.
        k, weighting, temperature, num_classes, chunk_size: See
            :func:`knn_predict`.
        topk (Sequence[int]): Accuracies to report.

    Returns:
        dict: ``{'top1': ..., 'top5': ...}`` in percent.
    """
    test_labels = _check_labels(test_labels, len(test_feats), 'test_labels')
    preds, _ = knn_predict(train_feats, train_labels, test_feats, k,
                           weighting, temperature, num_classes, chunk_size,
                           topk=max(topk))
    hits = preds == test_labels[:, None]
    return {
        f'top{t}': float(hits[:, :t].any(axis=1).mean() * 100)
        for t in topk
    }
