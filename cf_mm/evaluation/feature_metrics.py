"""Feature-space metrics of SL-MLP (Wang et al. 2022) and label agreement.

All metrics take the raw feature ``f`` of SL-MLP section 4.1 (the pooled
backbone output) as given: nothing here normalises it; callers that want
L2-normalised features pass them normalised (the tool's ``--l2-normalize``).

* :func:`redundancy` -- R, eq. 3: mean absolute correlation between all
  pairs of feature channels (diagonal included, ``1/d^2``). The text calls
  rho "the Pearson correlation coefficient", the printed formula has no mean
  removal; ``center=True`` is the Pearson form (channels centred), ``False``
  the formula as printed (:data:`EQ3_FORMS` names them in results).
* :func:`discriminative_ratio` -- phi, eq. 4: mean squared distance between
  class centres over the mean within-class squared distance to the centre.
* :func:`feature_mixture` -- Pi, eq. 2, between two class-disjoint datasets
  pre-D and eval-D. Our reading: the C = C_pre + C_eval classes are
  represented by their class centres (mean feature); for every class i, its
  k nearest *other* class centres are found (Euclidean distance by
  default, cosine on request) and ``top_k^eval(i)`` is how many of them are
  eval-D classes. Why: eq. 2 counts "the number of classes in eval-D found by
  top k neighbors search of any class i", i.e. neighbours are classes and
  the count is normalised by k; class i itself is left out because it
  would always be its own nearest neighbour. The expected share under
  uniform mixing is ``C_eval / C`` as printed.
* :func:`feature_mixture_ceiling` -- the largest Pi any features can have
  for given ``C_pre``, ``C_eval`` and ``k``: ``top_k^eval(i) / k`` moves in
  steps of ``1 / k`` and class i is not its own neighbour, while the target
  share stays ``C_eval / C``, so Pi = 1 is out of reach in general (e.g.
  14/15 = 0.9333 at C_pre = 6, C_eval = 4, k = 3). Report Pi beside it.
* :func:`sl_mlp_metrics` -- all of the above for one layer in one call (the
  tool and training hooks use it).
* :func:`clustering_agreement` -- NMI (arithmetic normalisation) and ARI of
  pseudo-labels (e.g. k-means cluster ids) against ground-truth labels, from
  scikit-learn.
"""
from fractions import Fraction
from typing import Dict, Optional

import numpy as np
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

from .knn import _check_features, _check_labels, l2_normalize

#: Name of the form of eq. 3 for ``redundancy(center=...)``.
EQ3_FORMS = {True: 'pearson-centred', False: 'uncentred-as-printed'}
MIXTURE_DISTANCES = ('euclidean', 'cosine')


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
        float: R in [0, 1]; channels that are constant (zero norm after the
        optional centring) count as uncorrelated with every other channel
        and with themselves.
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
                    k: int = 10,
                    distance: str = 'euclidean') -> float:
    """Feature mixture Pi between pre-D and eval-D (eq. 2, module doc).

    Args:
        pre_feats (np.ndarray): ``(N1, d)`` features of the pretraining set.
        pre_labels (np.ndarray): ``(N1,)`` its classes.
        eval_feats (np.ndarray): ``(N2, d)`` features of the evaluation set.
        eval_labels (np.ndarray): ``(N2,)`` its classes (a label space of
            its own: eval class 0 is not pre class 0; the datasets must not
            share classes).
        k (int): Neighbouring classes per class, in ``[1, C - 1]``.
        distance (str): Between class centres: ``'euclidean'`` (default)
            or ``'cosine'``.

    Returns:
        float: Pi in [0, 1]; 1 when every class sees eval-D classes in the
        proportion ``C_eval / C`` among its k nearest classes.
    """
    pre_feats = _check_features(pre_feats, 'pre_feats')
    eval_feats = _check_features(eval_feats, 'eval_feats')
    pre_labels = _check_labels(pre_labels, len(pre_feats), 'pre_labels')
    eval_labels = _check_labels(eval_labels, len(eval_feats), 'eval_labels')
    if distance not in MIXTURE_DISTANCES:
        raise ValueError(f'distance must be one of {MIXTURE_DISTANCES}, got '
                         f'{distance!r}')
    centres = np.concatenate([
        class_means(pre_feats, pre_labels),
        class_means(eval_feats, eval_labels)
    ])
    num_pre = len(np.unique(pre_labels))
    total = len(centres)
    if not 1 <= k < total:
        raise ValueError(f'k={k} must be in [1, {total - 1}] (classes - 1)')
    if distance == 'cosine':
        centres = l2_normalize(centres).astype(np.float64)
    sq = (centres**2).sum(axis=1)
    dist = sq[:, None] + sq[None, :] - 2 * centres @ centres.T
    np.fill_diagonal(dist, np.inf)
    neighbours = np.argsort(dist, axis=1, kind='stable')[:, :k]
    is_eval = np.arange(total) >= num_pre
    eval_share = is_eval[neighbours].sum(axis=1) / k
    expected = (total - num_pre) / total
    return float(1 - np.abs(eval_share - expected).mean())


def feature_mixture_ceiling(num_pre_classes: int, num_eval_classes: int,
                            k: int) -> float:
    """The largest value :func:`feature_mixture` can take.

    Pi is ``1 - mean_i |e_i / k - C_eval / C|`` where ``e_i`` is the number
    of eval-D classes among the k nearest other classes of class i. A pre-D
    class has ``C_pre - 1`` other pre-D and ``C_eval`` eval-D classes to
    choose from, an eval-D class ``C_pre`` and ``C_eval - 1``; each term is
    smallest for the feasible ``e_i`` nearest ``k * C_eval / C``. The
    ceiling is 1 minus the mean of those smallest terms: no neighbour
    structure, hence no features, does better. (It is reached when the
    per-class best counts can all be realised at once, as for the CIFAR-10
    concept split's 6 + 4 classes with k = 3, where it is 14/15;
    ``tests/evaluation/test_feature_metrics.py`` builds such features.)

    Args:
        num_pre_classes (int): ``C_pre >= 1``.
        num_eval_classes (int): ``C_eval >= 1``.
        k (int): Neighbouring classes, in ``[1, C - 1]``.

    Returns:
        float: The ceiling, in (0, 1].
    """
    num_pre, num_eval = int(num_pre_classes), int(num_eval_classes)
    if num_pre < 1 or num_eval < 1:
        raise ValueError('feature_mixture_ceiling needs at least one class '
                         f'in each dataset, got C_pre={num_pre}, '
                         f'C_eval={num_eval}')
    total = num_pre + num_eval
    if not 1 <= k < total:
        raise ValueError(f'k={k} must be in [1, {total - 1}] (classes - 1)')
    share = Fraction(num_eval, total)

    def best_gap(other_pre: int, other_eval: int) -> Fraction:
        low, high = max(0, k - other_pre), min(k, other_eval)
        return min(abs(Fraction(e, k) - share) for e in range(low, high + 1))

    gaps = (num_pre * best_gap(num_pre - 1, num_eval) +
            num_eval * best_gap(num_pre, num_eval - 1))
    return float(1 - gaps / total)


def sl_mlp_metrics(pre_feats: np.ndarray,
                   pre_labels: np.ndarray,
                   eval_feats: Optional[np.ndarray] = None,
                   eval_labels: Optional[np.ndarray] = None,
                   k: int = 10,
                   distance: str = 'euclidean',
                   center: bool = True) -> Dict[str, float]:
    """R, phi and (with eval-D) phi_eval and Pi of one layer's features.

    Args:
        pre_feats (np.ndarray): ``(N1, d)`` raw features of pre-D.
        pre_labels (np.ndarray): ``(N1,)`` classes of pre-D.
        eval_feats (np.ndarray, optional): ``(N2, d)`` features of eval-D, a
            dataset of other classes.
        eval_labels (np.ndarray, optional): ``(N2,)`` its classes.
        k (int): Neighbouring classes of Pi, clipped to ``C - 1``; 0 skips
            Pi.
        distance (str): Class-centre distance of Pi.
        center (bool): Pearson (centred) form of eq. 3.

    Returns:
        dict: ``R`` (on pre-D), ``phi`` (pre-D), and with eval-D
        ``phi_eval`` and (``k > 0``) ``Pi`` with ``k``, the k used, and
        ``Pi_max``, the ceiling of Pi for these class counts and k
        (:func:`feature_mixture_ceiling`).
    """
    out = dict(
        R=redundancy(pre_feats, center=center),
        phi=discriminative_ratio(pre_feats, pre_labels))
    if eval_feats is not None:
        if eval_labels is None:
            raise ValueError('eval_feats need eval_labels')
        out['phi_eval'] = discriminative_ratio(eval_feats, eval_labels)
        if k > 0:
            total = len(np.unique(pre_labels)) + len(np.unique(eval_labels))
            out['k'] = min(int(k), total - 1)
            out['Pi'] = feature_mixture(pre_feats, pre_labels, eval_feats,
                                        eval_labels, out['k'], distance)
            out['Pi_max'] = feature_mixture_ceiling(
                len(np.unique(pre_labels)), len(np.unique(eval_labels)),
                out['k'])
    return out


def clustering_agreement(pseudo_labels: np.ndarray,
                         labels: np.ndarray) -> Dict[str, float]:
    """NMI and ARI between pseudo-labels and ground-truth labels (sklearn).

    Args:
        pseudo_labels (np.ndarray): ``(N,)`` cluster ids.
        labels (np.ndarray): ``(N,)`` ground-truth classes.

    Returns:
        dict: ``nmi`` (``normalized_mutual_info_score``, arithmetic mean of
        the entropies) and ``ari`` (``adjusted_rand_score``).
    """
    pseudo_labels = np.asarray(pseudo_labels).reshape(-1)
    labels = np.asarray(labels).reshape(-1)
    if pseudo_labels.shape != labels.shape or labels.size == 0:
        raise ValueError(f'pseudo_labels {pseudo_labels.shape} and labels '
                         f'{labels.shape} must be equal, non-empty')
    return dict(
        nmi=float(normalized_mutual_info_score(labels, pseudo_labels)),
        ari=float(adjusted_rand_score(labels, pseudo_labels)))
