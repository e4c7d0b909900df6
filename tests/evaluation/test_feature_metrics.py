"""SL-MLP feature metrics and NMI/ARI against slow references."""
import numpy as np
import pytest
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

from cf_mm.evaluation.feature_metrics import (clustering_agreement,
                                              discriminative_ratio,
                                              feature_mixture, redundancy)


def test_redundancy_matches_corrcoef_and_loop():
    rng = np.random.default_rng(0)
    feats = rng.normal(size=(200, 6)) @ rng.normal(size=(6, 6))
    expected = np.abs(np.corrcoef(feats, rowvar=False)).mean()
    assert redundancy(feats, chunk_size=17) == pytest.approx(expected)
    # Formula as printed (no centring), written as the double sum of eq. 3.
    d = feats.shape[1]
    total = 0.0
    for i in range(d):
        for j in range(d):
            num = sum(feats[n, i] * feats[n, j] for n in range(len(feats)))
            den = np.sqrt(sum(feats[:, i]**2)) * np.sqrt(sum(feats[:, j]**2))
            total += abs(num / den)
    assert redundancy(feats, center=False) == pytest.approx(total / d**2)


def test_redundancy_known_answers():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(500, 1))
    # Four copies (up to sign and scale) of one channel: fully redundant.
    assert redundancy(np.hstack([x, -2 * x, 3 * x, x])) == pytest.approx(1.0)
    # Independent channels: only the diagonal counts, R -> 1/d.
    white = rng.normal(size=(200000, 4))
    assert redundancy(white) == pytest.approx(0.25, abs=0.01)


def reference_discriminative_ratio(feats, labels):
    classes = sorted(set(labels.tolist()))
    mu = {c: feats[labels == c].mean(axis=0) for c in classes}
    inter = 0.0
    for j in classes:
        for k in classes:
            if j != k:
                inter += np.sum((mu[j] - mu[k])**2)
    inter /= len(classes) * (len(classes) - 1)
    intra = 0.0
    for c in classes:
        members = feats[labels == c]
        intra += np.mean([np.sum((f - mu[c])**2) for f in members])
    intra /= len(classes)
    return inter / intra


def test_discriminative_ratio_matches_loop():
    rng = np.random.default_rng(2)
    labels = rng.integers(0, 5, 150)
    feats = rng.normal(size=(150, 7)) + labels[:, None] * 0.7
    assert discriminative_ratio(feats, labels) == pytest.approx(
        reference_discriminative_ratio(feats, labels))


def test_discriminative_ratio_known_answer():
    # Two classes at -1 and +1 on a line, each {c - s, c + s}:
    # D_inter = 4, D_intra = s^2.
    feats = np.array([[-1.5], [-0.5], [0.5], [1.5]])
    labels = np.array([0, 0, 1, 1])
    assert discriminative_ratio(feats, labels) == pytest.approx(4 / 0.25)
    with pytest.raises(ValueError, match='2 classes'):
        discriminative_ratio(feats, np.zeros(4, dtype=int))


def reference_feature_mixture(pre, pre_labels, ev, ev_labels, k):
    centres, is_eval = [], []
    for feats, labels, flag in ((pre, pre_labels, False),
                                (ev, ev_labels, True)):
        for c in sorted(set(labels.tolist())):
            m = feats[labels == c].mean(axis=0)
            centres.append(m / np.linalg.norm(m))
            is_eval.append(flag)
    total = len(centres)
    num_eval = sum(is_eval)
    acc = 0.0
    for i in range(total):
        others = [j for j in range(total) if j != i]
        others.sort(key=lambda j: -float(centres[i] @ centres[j]))
        found = sum(is_eval[j] for j in others[:k])
        acc += abs(found / k - num_eval / total)
    return 1 - acc / total


def test_feature_mixture_matches_loop():
    rng = np.random.default_rng(3)
    pre_labels = rng.integers(0, 6, 120)
    ev_labels = rng.integers(0, 4, 80)
    pre = rng.normal(size=(120, 5)) + rng.normal(size=(6, 5))[pre_labels]
    ev = rng.normal(size=(80, 5)) + rng.normal(size=(4, 5))[ev_labels]
    for k in (1, 3, 9):
        assert feature_mixture(pre, pre_labels, ev, ev_labels, k) == \
            pytest.approx(reference_feature_mixture(pre, pre_labels, ev,
                                                    ev_labels, k))


def test_feature_mixture_known_answer_separated_domains():
    """pre-D classes near +x, eval-D classes near -x: every class sees only
    its own domain. With C_pre = C_eval = 3, k = 2 each class is off by 1/2,
    so Pi = 1/2."""
    rng = np.random.default_rng(4)
    offsets = rng.normal(scale=0.05, size=(6, 4))
    pre_centres = np.array([10, 0, 0, 0]) + offsets[:3]
    ev_centres = np.array([-10, 0, 0, 0]) + offsets[3:]
    labels = np.repeat(np.arange(3), 5)
    pre = pre_centres[labels]
    ev = ev_centres[labels]
    assert feature_mixture(pre, labels, ev, labels, k=2) == pytest.approx(0.5)
    with pytest.raises(ValueError, match='k='):
        feature_mixture(pre, labels, ev, labels, k=6)


def test_clustering_agreement_matches_sklearn():
    rng = np.random.default_rng(5)
    for _ in range(10):
        labels = rng.integers(0, 7, 300)
        pseudo = np.where(rng.random(300) < 0.6, labels * 3 % 11,
                          rng.integers(0, 11, 300))
        result = clustering_agreement(pseudo, labels)
        assert result['nmi'] == pytest.approx(
            normalized_mutual_info_score(labels, pseudo))
        assert result['ari'] == pytest.approx(
            adjusted_rand_score(labels, pseudo))


def test_clustering_agreement_known_answers():
    labels = np.array([0, 0, 1, 1, 2, 2])
    assert clustering_agreement(labels + 5, labels) == {'nmi': 1.0,
                                                        'ari': 1.0}
    assert clustering_agreement(np.array([7, 7, 3, 3, 1, 1]),
                                labels)['ari'] == pytest.approx(1.0)
    # Both partitions are single clusters: defined as perfect agreement.
    ones = np.zeros(4, dtype=int)
    assert clustering_agreement(ones, ones) == {'nmi': 1.0, 'ari': 1.0}
    with pytest.raises(ValueError):
        clustering_agreement(labels, labels[:3])
