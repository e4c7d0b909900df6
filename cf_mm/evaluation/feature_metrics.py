"""Feature-space metrics of SL-MLP (Wang et al. 2022) and label agreement.

* :func:`redundancy` -- R, eq. 3: mean absolute correlation between all
  pairs of feature channels (diagonal included, ``1/d^2``). The text calls
  rho the Pearson correlation, the printed formula omits the mean; ``center``
  picks between them (default: Pearson).
* :func:`feature_mixture` -- Pi, eq. 2: for each class i of the union of
  pre-D and eval-D classes, the share of eval-D classes among the k classes
  nearest to i, compared with the share ``C_eval / C`` of a uniform mixture.
  "Nearest class" is read as the nearest class centres (cosine similarity of
  the mean features), class i itself excluded.
* :func:`discriminative_ratio` -- phi, eq. 4: mean squared distance between
  class centres over mean within-class squared distance to the centre.
* :func:`clustering_agreement` -- NMI (arithmetic normalisation) and ARI of
  pseudo-labels (e.g. k-means cluster ids) against ground-truth labels.
"""
from typing import Dict

import numpy as np

from .knn import _check_features, _check_labels, l2_normalize


def redundancy(feats: np.ndarray,
               center: bool = True,
               chunk_size: int = 65536) -> float:
    """Channel redundancy R of eq. 3.

    Args:
        feats (np.ndarray): ``(N, d)`` features.
        center (bool): Subtract each channel's mean first (Pearson
            correlation); ``False`` is the formula as printed.
        chunk_size (int): Rows accumulated at a time (bounded memory).

    Returns:
        float: R in [0, 1]; channels that are constant (zero norm) count as
        uncorrelated with every other channel and with themselves.
    """
    feats = _check_features(feats, 'feats')
    num, dim = feats.shape
    mean = feats.mean(axis=0, dtype=np.float64) if center else np.zeros(dim)
    gram = np.zeros((dim, dim), dtype=np.float64)
    for start in range(0, num, chunk_size):
        block = feats[start:start + chunk_size].astype(np.float64) - mean
        gram += block.T @ block
    norms = np.sqrt(np.diag(gram))
    denom = np.outer(norms, norms)
    rho = np.divide(gram, denom, out=np.zeros_like(gram), where=denom > 0)
    return float(np.abs(rho).sum() / dim**2)


def class_means(feats: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """``(C, d)`` mean feature of each class present in ``labels``.

    Classes are the sorted unique labels.
    """
    classes, inverse = np.unique(labels, return_inverse=True)
    sums = np.zeros((len(classes), feats.shape[1]), dtype=np.float64)
    np.add.at(sums, inverse, feats.astype(np.float64))
    return sums / np.bincount(inverse)[:, None]


def discriminative_ratio(feats: np.ndarray, labels: np.ndarray) -> float:
    """Discriminative ratio phi = D_inter / D_intra (eq. 4).

    Args:
        feats (np.ndarray): ``(N, d)`` features.
        labels (np.ndarray): ``(N,)`` class labels (at least 2 classes).

    Returns:
        float: phi.
    """
    feats = _check_features(feats, 'feats')
    labels = _check_labels(labels, len(feats), 'labels')
    classes, inverse = np.unique(labels, return_inverse=True)
    if len(classes) < 2:
        raise ValueError('discriminative_ratio needs at least 2 classes')
    means = class_means(feats, labels)
    sq = (means**2).sum(axis=1)
    pair = np.maximum(sq[:, None] + sq[None, :] - 2 * means @ means.T, 0)
    num_classes = len(classes)
    inter = pair.sum() / (num_classes * (num_classes - 1))
    residual = ((feats.astype(np.float64) - means[inverse])**2).sum(axis=1)
    per_class = np.bincount(inverse, residual) / np.bincount(inverse)
    intra = per_class.mean()
    if intra == 0:
        raise ValueError('every class collapses to one point: D_intra = 0')
    return float(inter / intra)


def feature_mixture(pre_feats: np.ndarray,
                    pre_labels: np.ndarray,
                    eval_feats: np.ndarray,
                    eval_labels: np.ndarray,
                    k: int = 10) -> float:
    """Feature mixture Pi between pre-D and eval-D (eq. 2).

    Args:
        pre_feats (np.ndarray): ``(N1, d)`` features of the pretraining set.
        pre_labels (np.ndarray): ``(N1,)`` its classes.
        eval_feats (np.ndarray): ``(N2, d)`` features of the evaluation set.
        eval_labels (np.ndarray): ``(N2,)`` its classes (a label space of
            its own: eval class 0 is not pre class 0).
        k (int): Neighbouring classes per class (< total classes).

    Returns:
        float: Pi; 1 when every class sees eval-D classes in the proportion
        ``C_eval / C`` among its neighbours.
    """
    pre_feats = _check_features(pre_feats, 'pre_feats')
    eval_feats = _check_features(eval_feats, 'eval_feats')
    pre_labels = _check_labels(pre_labels, len(pre_feats), 'pre_labels')
    eval_labels = _check_labels(eval_labels, len(eval_feats), 'eval_labels')
    centres = l2_normalize(
        np.concatenate([
            class_means(pre_feats, pre_labels),
            class_means(eval_feats, eval_labels)
        ]))
    num_pre = len(np.unique(pre_labels))
    total = len(centres)
    if not 1 <= k < total:
        raise ValueError(f'k={k} must be in [1, {total - 1}] (classes - 1)')
    is_eval = np.arange(total) >= num_pre
    sims = centres @ centres.T
    np.fill_diagonal(sims, -np.inf)
    neighbours = np.argsort(-sims, axis=1, kind='stable')[:, :k]
    eval_share = is_eval[neighbours].sum(axis=1) / k
    expected = (total - num_pre) / total
    return float(1 - np.abs(eval_share - expected).mean())


def _contingency(pred: np.ndarray, labels: np.ndarray) -> np.ndarray:
    _, pred = np.unique(pred, return_inverse=True)
    _, labels = np.unique(labels, return_inverse=True)
    table = np.zeros((pred.max() + 1, labels.max() + 1), dtype=np.float64)
    np.add.at(table, (pred, labels), 1.0)
    return table


def _entropy(counts: np.ndarray) -> float:
    p = counts[counts > 0] / counts.sum()
    return float(-(p * np.log(p)).sum())


def clustering_agreement(pseudo_labels: np.ndarray,
                         labels: np.ndarray) -> Dict[str, float]:
    """NMI and ARI between pseudo-labels and ground-truth labels.

    Args:
        pseudo_labels (np.ndarray): ``(N,)`` cluster ids.
        labels (np.ndarray): ``(N,)`` ground-truth classes.

    Returns:
        dict: ``nmi`` (mutual information over the arithmetic mean of the
        two entropies; 1 when both are single partitions) and ``ari``
        (adjusted Rand index), both in [.., 1].
    """
    pseudo_labels = np.asarray(pseudo_labels).reshape(-1)
    labels = np.asarray(labels).reshape(-1)
    if pseudo_labels.shape != labels.shape or labels.size == 0:
        raise ValueError(f'pseudo_labels {pseudo_labels.shape} and labels '
                         f'{labels.shape} must be equal, non-empty')
    table = _contingency(pseudo_labels, labels)
    num = table.sum()
    rows, cols = table.sum(axis=1), table.sum(axis=0)
    h_pred, h_true = _entropy(rows), _entropy(cols)
    nz = table > 0
    mutual = float(
        (table[nz] / num *
         np.log(table[nz] * num / np.outer(rows, cols)[nz])).sum())
    mean_entropy = (h_pred + h_true) / 2
    nmi = 1.0 if mean_entropy == 0 else max(mutual, 0.0) / mean_entropy

    def pairs(x):
        return (x * (x - 1) / 2).sum()

    index, pred_pairs, true_pairs = pairs(table), pairs(rows), pairs(cols)
    all_pairs = num * (num - 1) / 2
    expected = pred_pairs * true_pairs / all_pairs if all_pairs else 0.0
    max_index = (pred_pairs + true_pairs) / 2
    ari = 1.0 if np.isclose(max_index, expected) else float(
        (index - expected) / (max_index - expected))
    return dict(nmi=float(nmi), ari=ari)
