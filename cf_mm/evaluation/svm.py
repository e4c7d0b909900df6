"""One-vs-rest linear SVMs on frozen features, VOC07 protocol.

Follows Goyal et al. 2019 (fair_self_supervision_benchmark ``tools/svm``),
which ClusterFit uses for VOC07 (appendix D):

* features L2-normalised;
* per class, ``LinearSVC(C=cost, class_weight={1: 2, -1: 1},
  loss='squared_hinge', penalty='l2', dual=True, max_iter=2000)``;
* the cost of each class is chosen by 3-fold cross-validation (mean
  sklearn ``average_precision``) over :data:`VOC07_COSTS`: 10^-7 ... 10^2
  and 2^-4 ... 2^-19 (26 values);
* test AP is the VOC "all points" AP (area under the interpolated,
  monotonically decreasing precision-recall curve, as VOC2010+ and the
  benchmark's ``calculate_ap``; not the VOC2007 11-point AP); the mean over
  classes is the mAP.

Targets are ``(N, C)`` arrays with 1 = present, 0 = absent, -1 = difficult
only. As in the benchmark, difficult entries count as negatives when training
(``difficult_in_train='negative'``; ``'ignore'`` drops them) and are ignored
when testing.

Low-shot (Goyal et al. sec. 6): per class, k positives and ``(C - 1) * k``
negatives are sampled, everything else is ignored; several independent
samples per k. The benchmark reports, per sample and k, the best mean test AP
over the cost list (``cost_selection='best-test'``, an optimistic protocol:
the cost is chosen on the test set); ``cost_selection=<float>`` uses one fixed
cost instead.
"""
import logging
import warnings
from contextlib import contextmanager
from typing import Dict, Iterator, List, Optional, Sequence, Union

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import StratifiedKFold, cross_val_score
from sklearn.svm import LinearSVC

from .knn import l2_normalize

logger = logging.getLogger(__name__)

#: The cost list of Goyal et al. 2019 for VOC07 SVMs.
VOC07_COSTS: List[float] = ([10.0**p for p in range(-7, 3)] +
                            [0.5**p for p in range(4, 20)])
#: Low-shot k values of Goyal et al. 2019.
LOW_SHOT_KS = (1, 2, 4, 8, 16, 32, 64, 96)


def multilabel_targets(gt_labels: Sequence[Sequence[int]],
                       num_classes: int,
                       gt_labels_difficult: Optional[Sequence[
                           Sequence[int]]] = None) -> np.ndarray:
    """``(N, C)`` targets from mmpretrain multi-label annotations.

    Args:
        gt_labels (Sequence[Sequence[int]]): Per sample, the present classes
            (mmpretrain ``gt_label``).
        num_classes (int): Number of classes.
        gt_labels_difficult (Sequence[Sequence[int]], optional): Per sample,
            the classes with difficult objects (VOC ``gt_label_difficult``).
            A class that is only difficult in a sample gets -1.

    Returns:
        np.ndarray: int8 targets, 1 present / 0 absent / -1 difficult.
    """
    targets = np.zeros((len(gt_labels), num_classes), dtype=np.int8)
    for i, labels in enumerate(gt_labels):
        labels = np.asarray(labels, dtype=np.int64).reshape(-1)
        if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
            raise ValueError(f'sample {i}: label out of range [0, '
                             f'{num_classes}): {labels.tolist()}')
        if gt_labels_difficult is not None:
            difficult = np.asarray(
                gt_labels_difficult[i], dtype=np.int64).reshape(-1)
            targets[i, difficult] = -1
        targets[i, labels] = 1
    return targets


def voc_ap(scores: np.ndarray, targets: np.ndarray) -> float:
    """VOC "all points" average precision of one class.

    Args:
        scores (np.ndarray): ``(N,)`` classifier scores.
        targets (np.ndarray): ``(N,)`` 1 positive, 0 negative, -1 ignored.

    Returns:
        float: AP in [0, 1]; NaN when there is no positive.
    """
    scores = np.asarray(scores, dtype=np.float64).reshape(-1)
    targets = np.asarray(targets).reshape(-1)
    if scores.shape != targets.shape:
        raise ValueError(f'scores {scores.shape} and targets '
                         f'{targets.shape} differ in shape')
    keep = targets != -1
    scores, positive = scores[keep], targets[keep] > 0
    num_pos = int(positive.sum())
    if num_pos == 0:
        return float('nan')
    order = np.argsort(-scores, kind='stable')
    tp = np.cumsum(positive[order])
    precision = tp / np.arange(1, len(tp) + 1)
    recall = tp / num_pos
    # Interpolated precision: best precision at this recall or beyond.
    envelope = np.maximum.accumulate(precision[::-1])[::-1]
    recall_steps = np.diff(np.concatenate([[0.0], recall]))
    return float(np.sum(recall_steps * envelope))


def _train_targets(targets: np.ndarray, difficult_in_train: str):
    """Per-class ``(mask, labels in {-1, 1})`` for SVM training."""
    if difficult_in_train == 'negative':
        mask = np.ones(targets.shape, dtype=bool)
    elif difficult_in_train == 'ignore':
        mask = targets != -1
    else:
        raise ValueError("difficult_in_train must be 'negative' or "
                         f"'ignore', got {difficult_in_train!r}")
    return mask, np.where(targets == 1, 1, -1)


class ConvergenceTally:
    """Counts LinearSVC fits that stopped at ``max_iter``, per cost.

    sklearn warns once per such fit (a VOC07 run of 20 classes x 26 costs x
    4 fits can print hundreds of ``ConvergenceWarning`` lines); the
    benchmark functions count them here instead and :meth:`summary` says it
    in one line. Other warnings pass through unchanged.
    """

    def __init__(self):
        self.fits = 0
        self.not_converged: Dict[float, int] = {}

    @contextmanager
    def count(self, cost: float, fits: int = 1) -> Iterator[None]:
        """Count the ``fits`` LinearSVC fits with cost ``cost`` run inside,
        and those of them that did not converge."""
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter('always', ConvergenceWarning)
            yield
        self.fits += fits
        for warning in caught:
            if issubclass(warning.category, ConvergenceWarning):
                self.not_converged[cost] = self.not_converged.get(cost,
                                                                  0) + 1
            else:
                warnings.warn_explicit(warning.message, warning.category,
                                       warning.filename, warning.lineno)

    def summary(self, max_iter: int) -> Optional[str]:
        """One line: how many fits stopped at ``max_iter``, at which costs
        (with counts); None when every fit converged."""
        total = sum(self.not_converged.values())
        if not total:
            return None
        costs = ', '.join(f'C={cost:g} ({num})' for cost, num in sorted(
            self.not_converged.items(), key=lambda item: -item[0]))
        return (f'{total} of {self.fits} LinearSVC fits stopped at '
                f'max_iter={max_iter} before converging (sklearn '
                f'ConvergenceWarning), at {costs}; raise max_iter '
                '(--max-iter) to let them converge')


def make_svm(cost: float, max_iter: int = 2000, seed: int = 0) -> LinearSVC:
    """The LinearSVC of the VOC07 benchmark with cost ``cost``."""
    return LinearSVC(
        C=cost,
        class_weight={
            1: 2,
            -1: 1
        },
        intercept_scaling=1.0,
        penalty='l2',
        loss='squared_hinge',
        tol=1e-4,
        dual=True,
        max_iter=max_iter,
        random_state=seed)


def _check_pair(feats: np.ndarray, targets: np.ndarray, name: str):
    feats = np.asarray(feats)
    targets = np.asarray(targets)
    if feats.ndim != 2 or targets.ndim != 2:
        raise ValueError(f'{name}: features must be (N, D) and targets '
                         f'(N, C), got {feats.shape} and {targets.shape}')
    if len(feats) != len(targets):
        raise ValueError(f'{name}: {len(feats)} features but '
                         f'{len(targets)} targets')
    if not np.isin(targets, (-1, 0, 1)).all():
        raise ValueError(f'{name}: targets must be in {{-1, 0, 1}}')
    return feats, targets


def svm_map(train_feats: np.ndarray,
            train_targets: np.ndarray,
            test_feats: np.ndarray,
            test_targets: np.ndarray,
            costs: Sequence[float] = VOC07_COSTS,
            cv_folds: int = 3,
            difficult_in_train: str = 'negative',
            max_iter: int = 2000,
            seed: int = 0,
            tally: Optional[ConvergenceTally] = None
            ) -> Dict[str, Union[float, list]]:
    """Train per-class SVMs with cross-validated costs; test mAP.

    Args:
        train_feats (np.ndarray): ``(N, D)`` training features.
        train_targets (np.ndarray): ``(N, C)`` in {1, 0, -1}.
        test_feats (np.ndarray): ``(M, D)`` test features.
        test_targets (np.ndarray): ``(M, C)`` in {1, 0, -1}.
        costs (Sequence[float]): Candidate costs (default: the 26 of the
            benchmark).
        cv_folds (int): Cross-validation folds to pick the cost; with one
            cost no cross-validation runs.
        difficult_in_train (str): ``'negative'`` (benchmark) or ``'ignore'``.
        max_iter (int): LinearSVC iterations.
        seed (int): Seed of LinearSVC's coordinate descent.
        tally (ConvergenceTally, optional): Counts the fits that did not
            converge (several calls can share one); None: a tally of this
            call, summarised in one warning line at its end.

    Returns:
        dict: ``mAP`` (percent, mean over classes with a test positive),
        ``ap`` per class (percent, NaN without a positive), ``cost`` chosen
        per class, ``cv_ap`` (classes x costs, fraction) and
        ``not_converged`` (cost -> fits that stopped at ``max_iter``, in
        this call).
    """
    train_feats, train_targets = _check_pair(train_feats, train_targets,
                                             'train')
    test_feats, test_targets = _check_pair(test_feats, test_targets, 'test')
    if train_targets.shape[1] != test_targets.shape[1]:
        raise ValueError(f'train targets have {train_targets.shape[1]} '
                         f'classes, test targets {test_targets.shape[1]}')
    if not costs:
        raise ValueError('costs must not be empty')
    train_x = l2_normalize(train_feats).astype(np.float64)
    test_x = l2_normalize(test_feats).astype(np.float64)
    masks, labels = _train_targets(train_targets, difficult_in_train)
    num_classes = train_targets.shape[1]
    cv_ap = np.full((num_classes, len(costs)), np.nan)
    chosen, aps = [], []
    own = ConvergenceTally()
    for cls in range(num_classes):
        x, y = train_x[masks[:, cls]], labels[masks[:, cls], cls]
        if (y == 1).sum() == 0 or (y == -1).sum() == 0:
            raise ValueError(f'class {cls} has no positive or no negative '
                             'training sample')
        if len(costs) > 1:
            folds = StratifiedKFold(cv_folds, shuffle=False)
            for j, cost in enumerate(costs):
                with own.count(cost, fits=cv_folds):
                    cv_ap[cls, j] = cross_val_score(
                        make_svm(cost, max_iter, seed), x, y, cv=folds,
                        scoring='average_precision').mean()
            best = costs[int(np.nanargmax(cv_ap[cls]))]
        else:
            best = costs[0]
        with own.count(best):
            svm = make_svm(best, max_iter, seed).fit(x, y)
        aps.append(voc_ap(svm.decision_function(test_x), test_targets[:,
                                                                      cls]))
        chosen.append(float(best))
        logger.info('SVM class %d/%d: cost %g, test AP %.4f', cls + 1,
                    num_classes, best, aps[-1])
    aps = np.asarray(aps) * 100
    _merge_tally(own, tally, max_iter)
    return dict(
        mAP=float(np.nanmean(aps)),
        ap=aps.tolist(),
        cost=chosen,
        cv_ap=cv_ap.tolist(),
        not_converged=dict(own.not_converged))


def _merge_tally(own: ConvergenceTally, shared: Optional[ConvergenceTally],
                 max_iter: int) -> None:
    """Add a call's counts to the caller's tally, or log them."""
    if shared is None:
        summary = own.summary(max_iter)
        if summary:
            logger.warning(summary)
        return
    shared.fits += own.fits
    for cost, num in own.not_converged.items():
        shared.not_converged[cost] = shared.not_converged.get(cost, 0) + num


def sample_low_shot_targets(targets: np.ndarray, k: int,
                            rng: np.random.Generator) -> np.ndarray:
    """One low-shot training target matrix (Goyal et al. 2019).

    Args:
        targets (np.ndarray): ``(N, C)`` full targets in {1, 0, -1}.
        k (int): Positives per class.
        rng (np.random.Generator): Random source.

    Returns:
        np.ndarray: ``(N, C)``; per class k sampled positives (1),
        ``(C - 1) * k`` sampled negatives (0), all else -1 (ignored).
    """
    num_classes = targets.shape[1]
    out = np.full(targets.shape, -1, dtype=np.int8)
    for cls in range(num_classes):
        for value, num in ((1, k), (0, (num_classes - 1) * k)):
            pool = np.flatnonzero(targets[:, cls] == value)
            if len(pool) < num:
                raise ValueError(f'class {cls}: low-shot k={k} needs {num} '
                                 f'samples with target {value}, only '
                                 f'{len(pool)} exist')
            out[rng.choice(pool, num, replace=False), cls] = value
    return out


def low_shot_svm_map(train_feats: np.ndarray,
                     train_targets: np.ndarray,
                     test_feats: np.ndarray,
                     test_targets: np.ndarray,
                     k_values: Sequence[int] = LOW_SHOT_KS,
                     num_samples: int = 5,
                     costs: Sequence[float] = VOC07_COSTS,
                     cost_selection: Union[str, float] = 'best-test',
                     max_iter: int = 2000,
                     seed: int = 0,
                     tally: Optional[ConvergenceTally] = None
                     ) -> Dict[int, Dict[str, float]]:
    """Low-shot VOC07 SVM mAP, mean and std over independent samples.

    Args:
        train_feats, train_targets, test_feats, test_targets: See
            :func:`svm_map`.
        k_values (Sequence[int]): Positives per class.
        num_samples (int): Independent samples per k.
        costs (Sequence[float]): Costs tried with ``'best-test'``.
        cost_selection (str | float): ``'best-test'`` (benchmark: per
            sample, the cost with the best test mAP) or a fixed cost.
        max_iter (int): LinearSVC iterations.
        seed (int): Seed of the sampling (and of LinearSVC).
        tally (ConvergenceTally, optional): See :func:`svm_map`.

    Returns:
        dict: k -> ``{'mAP': mean, 'std': std, 'samples': [mAP per sample],
        'cost': [cost per sample]}``, mAP in percent.
    """
    train_feats, train_targets = _check_pair(train_feats, train_targets,
                                             'train')
    test_feats, test_targets = _check_pair(test_feats, test_targets, 'test')
    if cost_selection == 'best-test':
        cost_list = list(costs)
    elif isinstance(cost_selection, (int, float)):
        cost_list = [float(cost_selection)]
    else:
        raise ValueError("cost_selection must be 'best-test' or a cost, got "
                         f'{cost_selection!r}')
    train_x = l2_normalize(train_feats).astype(np.float64)
    test_x = l2_normalize(test_feats).astype(np.float64)
    rng = np.random.default_rng(seed)
    results = {}
    own = ConvergenceTally()
    for k in k_values:
        sample_maps, sample_costs = [], []
        for sample in range(num_samples):
            low_shot = sample_low_shot_targets(train_targets, k, rng)
            maps = []
            for cost in cost_list:
                aps = []
                for cls in range(low_shot.shape[1]):
                    keep = low_shot[:, cls] != -1
                    y = np.where(low_shot[keep, cls] == 1, 1, -1)
                    with own.count(cost):
                        svm = make_svm(cost, max_iter, seed).fit(
                            train_x[keep], y)
                    aps.append(
                        voc_ap(svm.decision_function(test_x),
                               test_targets[:, cls]))
                maps.append(float(np.nanmean(aps)) * 100)
            best = int(np.argmax(maps))
            sample_maps.append(maps[best])
            sample_costs.append(cost_list[best])
            logger.info('low-shot SVM k=%d sample %d/%d: mAP %.2f', k,
                        sample + 1, num_samples, maps[best])
        results[int(k)] = dict(
            mAP=float(np.mean(sample_maps)),
            std=float(np.std(sample_maps)),
            samples=sample_maps,
            cost=sample_costs)
    _merge_tally(own, tally, max_iter)
    return results
