"""SL-MLP feature metrics and NMI/ARI against slow references and
hand-built known answers."""
import itertools
import math
from fractions import Fraction

import numpy as np
import pytest

from cf_mm.evaluation.feature_metrics import (clustering_agreement,
                                              discriminative_ratio,
                                              feature_mixture,
                                              feature_mixture_ceiling,
                                              redundancy, sl_mlp_metrics)


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


def reference_feature_mixture(pre, pre_labels, ev, ev_labels, k,
                              distance='euclidean'):
    """Eq. 2 as read in the module: class centres, k nearest other
    classes, share of eval-D classes among them vs C_eval / C."""
    centres, is_eval = [], []
    for feats, labels, flag in ((pre, pre_labels, False),
                                (ev, ev_labels, True)):
        for c in sorted(set(labels.tolist())):
            m = feats[labels == c].mean(axis=0)
            if distance == 'cosine':
                m = m / np.linalg.norm(m)
            centres.append(m)
            is_eval.append(flag)
    total = len(centres)
    num_eval = sum(is_eval)
    acc = 0.0
    for i in range(total):
        others = [j for j in range(total) if j != i]
        others.sort(key=lambda j: float(np.sum((centres[i] - centres[j])**2)))
        found = sum(is_eval[j] for j in others[:k])
        acc += abs(found / k - num_eval / total)
    return 1 - acc / total


@pytest.mark.parametrize('distance', ['euclidean', 'cosine'])
def test_feature_mixture_matches_loop(distance):
    rng = np.random.default_rng(3)
    pre_labels = rng.integers(0, 6, 120)
    ev_labels = rng.integers(0, 4, 80)
    pre = rng.normal(size=(120, 5)) + rng.normal(size=(6, 5))[pre_labels]
    ev = rng.normal(size=(80, 5)) + 3 * rng.normal(size=(4, 5))[ev_labels]
    values = set()
    for k in (1, 3, 9):
        value = feature_mixture(pre, pre_labels, ev, ev_labels, k, distance)
        assert value == pytest.approx(
            reference_feature_mixture(pre, pre_labels, ev, ev_labels, k,
                                      distance))
        values.add(round(value, 6))
    assert len(values) > 1  # k matters on these data


def test_feature_mixture_distance_matters_when_norms_differ():
    rng = np.random.default_rng(7)
    pre_labels = rng.integers(0, 6, 120)
    ev_labels = rng.integers(0, 4, 80)
    pre = rng.normal(size=(120, 5)) + rng.normal(size=(6, 5))[pre_labels]
    ev = rng.normal(size=(80, 5)) + 3 * rng.normal(size=(4, 5))[ev_labels]
    assert any(
        feature_mixture(pre, pre_labels, ev, ev_labels, k) !=
        feature_mixture(pre, pre_labels, ev, ev_labels, k, 'cosine')
        for k in (1, 3, 5))


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


def _two_samples_per_class(centres):
    """Two samples per class, at centre +- 0.1 along an extra axis, so the
    class mean is the centre; labels 0 .. len(centres) - 1."""
    centres = np.asarray(centres, dtype=np.float64)
    extra = np.array([[0.1], [-0.1]])
    feats = np.concatenate([
        np.hstack([np.repeat(c[None], 2, axis=0), extra]) for c in centres])
    return feats, np.repeat(np.arange(len(centres)), 2)


def test_feature_mixture_known_answer_by_hand():
    """Class centres on a line: pre-D at 0, 1, 3, eval-D at 10, 12, so
    C_eval / C = 2/5.
    k = 1: every pre class's nearest class is a pre class (share 0, off by
    2/5), every eval class's an eval class (share 1, off by 3/5):
    Pi = 1 - (3 * 2/5 + 2 * 3/5) / 5 = 0.52.
    k = 2: pre 0 -> {1, 3}, pre 1 -> {0, 3}, pre 3 -> {1, 0}: share 0;
    eval 10 -> {12, 3}, eval 12 -> {10, 3}: share 1/2, off by 1/10:
    Pi = 1 - (3 * 2/5 + 2 * 1/10) / 5 = 0.72."""
    pre, pre_labels = _two_samples_per_class([[0.0], [1.0], [3.0]])
    ev, ev_labels = _two_samples_per_class([[10.0], [12.0]])
    assert feature_mixture(pre, pre_labels, ev, ev_labels, k=1) == \
        pytest.approx(0.52)
    assert feature_mixture(pre, pre_labels, ev, ev_labels, k=2) == \
        pytest.approx(0.72)


def _brute_force_ceiling(num_pre, num_eval, k, joint):
    """max over neighbour sets of 1 - mean_i |e_i / k - C_eval / C|, by
    enumerating every k-subset of the other classes for every class
    (``joint``: every combination of one subset per class, as a whole)."""
    total = num_pre + num_eval
    share = Fraction(num_eval, total)
    options = []
    for i in range(total):
        others = [j for j in range(total) if j != i]
        options.append([abs(Fraction(sum(j >= num_pre for j in subset), k)
                            - share)
                        for subset in itertools.combinations(others, k)])
    if joint:
        best = min(sum(choice) for choice in itertools.product(*options))
    else:
        best = sum(min(gaps) for gaps in options)
    return 1 - best / total


@pytest.mark.parametrize('num_pre,num_eval,k,joint', [
    (3, 2, 1, True), (3, 2, 2, True), (2, 3, 3, True), (4, 1, 2, True),
    (2, 2, 1, True)] + [(6, 4, k, False) for k in range(1, 10)] + [
    (3, 7, 4, False), (8, 3, 5, False)])
def test_feature_mixture_ceiling_is_the_brute_force_maximum(
        num_pre, num_eval, k, joint):
    assert feature_mixture_ceiling(num_pre, num_eval, k) == pytest.approx(
        float(_brute_force_ceiling(num_pre, num_eval, k, joint)), abs=1e-12)


def _embed(distances):
    """Points with the given Euclidean distances (classical MDS)."""
    sq = np.asarray(distances, dtype=np.float64)**2
    n = len(sq)
    centring = np.eye(n) - 1.0 / n
    gram = -0.5 * centring @ sq @ centring
    values, vectors = np.linalg.eigh(gram)
    assert values.min() > -1e-9  # a Euclidean distance matrix
    points = vectors * np.sqrt(np.clip(values, 0, None))
    got = np.sqrt(((points[:, None] - points[None])**2).sum(-1))
    np.testing.assert_allclose(got, distances, atol=1e-9)
    return points


def test_feature_mixture_reaches_its_ceiling_at_the_reported_c_and_k():
    """docs/sl_mlp.md reports Pi for 6 pre-D + 4 eval-D classes, k = 3:
    the ceiling is 1 - |1/3 - 2/5| = 14/15 (every class with exactly one
    eval-D class among its 3 nearest). Hand-built features reach it: two
    far-apart groups {p1, p2, p3, e1, e2}, all distances about 1, with
    p1, p2 -> e1 and p3 -> e2 at 0.99 (each pre class's one eval
    neighbour), e1 <-> e2 at 1, and p3-e1, p2-e2 at 1.01, p1-e2 at 1.005
    (so e1's neighbours are p1, p2, e2 and e2's are p3, e1, p1)."""
    assert feature_mixture_ceiling(6, 4, 3) == pytest.approx(14 / 15)
    order = ['p1', 'p2', 'p3', 'e1', 'e2']
    pair = {('p1', 'e1'): 0.99, ('p2', 'e1'): 0.99, ('p3', 'e2'): 0.99,
            ('p3', 'e1'): 1.01, ('p2', 'e2'): 1.01, ('p1', 'e2'): 1.005}
    dist = np.ones((5, 5)) - np.eye(5)
    for (a, b), d in pair.items():
        dist[order.index(a), order.index(b)] = d
        dist[order.index(b), order.index(a)] = d
    group = _embed(dist)  # (5, 5), the points of one group
    far = np.zeros((1, 5))
    far[0, 0] = 100.0
    pre_centres = np.concatenate([group[:3], group[:3] + far])
    eval_centres = np.concatenate([group[3:], group[3:] + far])
    pre, pre_labels = _two_samples_per_class(pre_centres)
    ev, ev_labels = _two_samples_per_class(eval_centres)
    assert feature_mixture(pre, pre_labels, ev, ev_labels, k=3) == \
        pytest.approx(14 / 15)
    out = sl_mlp_metrics(pre, pre_labels, ev, ev_labels, k=3)
    assert out['Pi'] == pytest.approx(out['Pi_max'])


def reference_agreement(pseudo, labels):
    """NMI (arithmetic mean of the entropies) and ARI from their textbook
    definitions, with explicit loops over the contingency table."""
    n = len(labels)
    clusters, classes = sorted(set(pseudo)), sorted(set(labels))
    table = [[sum(1 for p, y in zip(pseudo, labels) if p == a and y == b)
              for b in classes] for a in clusters]
    rows = [sum(r) for r in table]
    cols = [sum(table[i][j] for i in range(len(clusters)))
            for j in range(len(classes))]
    mutual = sum(nij / n * math.log(nij * n / (rows[i] * cols[j]))
                 for i, r in enumerate(table) for j, nij in enumerate(r)
                 if nij)
    h_rows = -sum(r / n * math.log(r / n) for r in rows)
    h_cols = -sum(c / n * math.log(c / n) for c in cols)
    nmi = mutual / ((h_rows + h_cols) / 2)
    index = sum(math.comb(nij, 2) for r in table for nij in r)
    a = sum(math.comb(r, 2) for r in rows)
    b = sum(math.comb(c, 2) for c in cols)
    expected = a * b / math.comb(n, 2)
    ari = (index - expected) / ((a + b) / 2 - expected)
    return nmi, ari


def test_clustering_agreement_matches_textbook_formulas():
    rng = np.random.default_rng(5)
    for _ in range(5):
        labels = rng.integers(0, 7, 300)
        pseudo = np.where(rng.random(300) < 0.6, labels * 3 % 11,
                          rng.integers(0, 11, 300))
        result = clustering_agreement(pseudo, labels)
        nmi, ari = reference_agreement(pseudo.tolist(), labels.tolist())
        assert result['nmi'] == pytest.approx(nmi, abs=1e-12)
        assert result['ari'] == pytest.approx(ari, abs=1e-12)


def test_clustering_agreement_known_answers():
    labels = np.array([0, 0, 1, 1, 2, 2])
    assert clustering_agreement(labels + 5, labels) == {'nmi': 1.0,
                                                        'ari': 1.0}
    assert clustering_agreement(np.array([7, 7, 3, 3, 1, 1]),
                                labels)['ari'] == pytest.approx(1.0)
    # Pairs of classes merged, 4 balanced classes of 40: I = ln 2,
    # H(labels) = ln 4, H(clusters) = ln 2 -> NMI = ln 2 / (1.5 ln 2) = 2/3.
    # ARI: sum C(n_ij, 2) = 4 C(40, 2) = 3120, rows 2 C(80, 2) = 6320,
    # columns 3120, C(160, 2) = 12720.
    classes = np.repeat(np.arange(4), 40)
    merged = clustering_agreement(classes // 2, classes)
    expected_index = 6320 * 3120 / 12720
    assert merged['nmi'] == pytest.approx(2 / 3)
    assert merged['ari'] == pytest.approx(
        (3120 - expected_index) / ((6320 + 3120) / 2 - expected_index))
    # Independent partitions of 4 points: NMI 0, ARI -1/2.
    split = clustering_agreement(np.array([0, 1, 0, 1]),
                                 np.array([0, 0, 1, 1]))
    assert split['nmi'] == pytest.approx(0, abs=1e-12)
    assert split['ari'] == pytest.approx(-0.5)
    with pytest.raises(ValueError):
        clustering_agreement(labels, labels[:3])


def test_sl_mlp_metrics_is_the_individual_metrics():
    rng = np.random.default_rng(6)
    pre_labels = rng.integers(0, 5, 100)
    ev_labels = rng.integers(0, 3, 60)
    pre = rng.normal(size=(100, 8)) + 2 * rng.normal(size=(5, 8))[pre_labels]
    ev = rng.normal(size=(60, 8)) + 2 * rng.normal(size=(3, 8))[ev_labels]
    out = sl_mlp_metrics(pre, pre_labels, ev, ev_labels, k=20)
    assert out['k'] == 7  # clipped to C - 1 = 5 + 3 - 1
    assert out == dict(
        R=redundancy(pre),
        phi=discriminative_ratio(pre, pre_labels),
        phi_eval=discriminative_ratio(ev, ev_labels),
        k=7,
        Pi=feature_mixture(pre, pre_labels, ev, ev_labels, 7),
        Pi_max=feature_mixture_ceiling(5, 3, 7))
    assert sl_mlp_metrics(pre, pre_labels, center=False) == dict(
        R=redundancy(pre, center=False),
        phi=discriminative_ratio(pre, pre_labels))
    assert 'Pi' not in sl_mlp_metrics(pre, pre_labels, ev, ev_labels, k=0)
