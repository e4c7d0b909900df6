"""Prototype and per-label clustering against slow, obviously correct
references (explicit loops over labels and points, float64)."""
import numpy as np
import pytest
from sklearn.metrics import normalized_mutual_info_score as nmi

from cf_mm.clustering import (allocate_clusters, cluster, cluster_sweep,
                              kmeans, per_label_clusters, prototype_clusters)
from cf_mm.clustering.baselines import single_label_of

from .gmm import make_gmm


def _reference_prototype(feats, labels, spherical=False):
    """Class means by a loop over images, nearest mean by a loop over
    points and centroids, all in float64."""
    feats = feats.astype(np.float64)
    multi = labels.ndim == 2
    num_classes = labels.shape[1] if multi else labels.max() + 1
    sums = np.zeros((num_classes, feats.shape[1]))
    counts = np.zeros(num_classes)
    for i in range(len(feats)):
        classes = np.flatnonzero(labels[i]) if multi else [labels[i]]
        for c in classes:
            sums[c] += feats[i]
            counts[c] += 1
    means = sums / counts[:, None]
    if spherical:
        means = np.array([m / np.sqrt((m * m).sum()) for m in means])
    out = []
    for x in feats:
        dists = [((x - m)**2).sum() for m in means]
        out.append(int(np.argmin(dists)))
    return np.array(out), means


@pytest.fixture(scope='module')
def data():
    feats, truth = make_gmm(600, 6, 8, seed=11, spread=0.25)
    # Noisy class labels: a fifth of the images carry a random class.
    rng = np.random.default_rng(0)
    labels = truth.copy()
    flip = rng.random(len(labels)) < 0.2
    labels[flip] = rng.integers(0, 6, flip.sum())
    return feats, labels


@pytest.mark.parametrize('spherical', [False, True])
def test_prototype_matches_reference(data, spherical):
    feats, labels = data
    ref_labels, ref_means = _reference_prototype(feats, labels, spherical)
    result = prototype_clusters(feats, labels, spherical=spherical)
    np.testing.assert_array_equal(result.labels, ref_labels)
    np.testing.assert_allclose(result.centroids, ref_means, atol=1e-6)
    assert result.num_clusters == 6
    assert result.objective == []
    expected = sum(((feats[i] - ref_means[ref_labels[i]])**2).sum()
                   for i in range(len(feats)))
    assert result.final_objective == pytest.approx(expected, rel=1e-5)


def test_prototype_multilabel_matches_reference(data):
    feats, labels = data
    rng = np.random.default_rng(1)
    multi = np.zeros((len(labels), 6), dtype=np.int64)
    multi[np.arange(len(labels)), labels] = 1
    multi[rng.random(multi.shape) < 0.15] = 1  # extra labels
    ref_labels, ref_means = _reference_prototype(feats, multi)
    result = cluster(feats, 'prototype', labels=multi)
    np.testing.assert_array_equal(result.labels, ref_labels)
    np.testing.assert_allclose(result.centroids, ref_means, atol=1e-6)


def test_allocate_known_answer_and_skewed_counts():
    # sqrt = 10, 5, 2, 1 (sum 18), K = 17: quotas 9.44, 4.72, 1.89, 0.94;
    # floors 9, 4, 1, 0 -> clamp to 1 -> 15; the two left go to the largest
    # remainders (label 2: 0.89, then label 1: 0.72).
    assert allocate_clusters([100, 25, 4, 1], 17).tolist() == [9, 5, 2, 1]
    counts = np.array([250000, 9000, 1000, 300, 25, 4, 2, 1, 1, 1])
    roots = np.sqrt(counts)
    assert allocate_clusters(counts, 10).tolist() == [1] * 10
    for k in (11, 17, 50, 100, 333, 1000, 5000):
        alloc = allocate_clusters(counts, k)
        assert alloc.sum() == k
        assert (alloc >= 1).all() and (alloc <= counts).all()
        # Among labels off their bounds, sqrt-proportional up to rounding.
        free = (alloc > 1) & (alloc < counts)
        quota = (k - alloc[~free].sum()) * roots[free] / roots[free].sum()
        assert (np.abs(alloc[free] - quota) < 1).all()
        # Monotone in the label size.
        assert (np.diff(alloc) <= 0).all()
    # Every label capped at its size: K = number of images.
    np.testing.assert_array_equal(allocate_clusters([3, 2, 1], 6), [3, 2, 1])


@pytest.mark.parametrize('counts,k', [([5, 5], 1), ([5, 5], 11),
                                      ([5, 0], 3)])
def test_allocate_rejects_impossible(counts, k):
    with pytest.raises(ValueError):
        allocate_clusters(counts, k)


def test_per_label_matches_loop_over_labels(data):
    feats, labels = data
    result = per_label_clusters(feats, labels, 20, seed=3, num_iters=10)
    alloc = allocate_clusters(np.bincount(labels), 20)
    expected = np.empty(len(feats), dtype=np.int64)
    offset = 0
    for label, k in enumerate(alloc):
        rows = [i for i in range(len(feats)) if labels[i] == label]
        ref = kmeans(feats[rows], int(k), seed=3, num_iters=10,
                     spherical=False)
        for row, local in zip(rows, ref.labels):
            expected[row] = offset + local
        offset += k
    np.testing.assert_array_equal(result.labels, expected)
    assert result.num_clusters == 20
    # Ids are unique across labels: a cluster holds images of one label.
    for cid in range(20):
        assert len(set(labels[result.labels == cid])) <= 1


def test_per_label_known_answer_on_hand_built_features():
    """Labels of 64, 16 and 4 images get sqrt-allocated 8, 4 and 2 of
    K = 14 clusters. Label l's images sit, 8, 4 and 2 identical copies
    each, on k_l basis vectors (label 0 on e0..e7, label 1 on e0..e3, the
    same points as label 0's first four, label 2 on e8, e9), rows shuffled.
    Per-label clustering must put every (label, point) group in a cluster
    of its own, label l's within ids offset_l .. offset_l + k_l - 1
    (offsets 0, 8, 12), with the point as centroid and zero objective;
    plain k-means could not tell label 0's e0 from label 1's e0."""
    assert allocate_clusters([64, 16, 4], 14).tolist() == [8, 4, 2]
    points = {0: range(8), 1: range(4), 2: (8, 9)}
    copies = {0: 8, 1: 4, 2: 2}
    rows = [(label, point) for label, pts in points.items() for point in pts
            for _ in range(copies[label])]
    order = np.random.default_rng(0).permutation(len(rows))
    rows = [rows[i] for i in order]
    feats = np.zeros((len(rows), 10), dtype=np.float32)
    feats[np.arange(len(rows)), [p for _, p in rows]] = 1
    labels = np.array([label for label, _ in rows])
    result = per_label_clusters(feats, labels, 14, seed=0, init='k-means++',
                                num_iters=5)
    ids = {}
    for (label, point), cid in zip(rows, result.labels.tolist()):
        assert ids.setdefault((label, point), cid) == cid
    assert len(set(ids.values())) == 14  # every group a cluster of its own
    ranges = {0: range(0, 8), 1: range(8, 12), 2: range(12, 14)}
    for (label, point), cid in ids.items():
        assert cid in ranges[label]
        expected = np.zeros(10)
        expected[point] = 1
        np.testing.assert_allclose(result.centroids[cid], expected,
                                   atol=1e-6)
    assert result.final_objective == pytest.approx(0, abs=1e-6)


def test_per_label_finds_subclusters_of_each_label():
    # 12 components, labels group them in threes: per-label clustering with
    # K=12 (3 per label, equal sizes) recovers the components.
    feats, comp = make_gmm(1200, 12, 16, seed=2, spread=0.03)
    labels = comp // 3
    result = per_label_clusters(feats, labels, 12, init='k-means++')
    # Cluster c belongs to label c // 3 (ids offset per label).
    assert (result.labels // 3 == labels).all()
    assert nmi(comp, result.labels) > 0.99


def test_per_label_single_cluster_label_and_multilabel_pick():
    rng = np.random.default_rng(5)
    feats = rng.normal(size=(50, 4)).astype(np.float32)
    labels = np.array([0] * 45 + [1] * 5)
    # counts 45, 5 -> sqrt 6.7, 2.2; K=4 -> quotas 3.0, 1.0
    result = per_label_clusters(feats, labels, 4, seed=0)
    assert set(result.labels[45:]) == {3}
    np.testing.assert_allclose(result.centroids[3], feats[45:].mean(0),
                               atol=1e-6)
    multi = np.zeros((1000, 3), dtype=np.int64)
    multi[:, 0] = 1
    multi[::2, 2] = 1
    picked = single_label_of(multi.astype(bool), seed=0)
    assert (multi[np.arange(1000), picked] == 1).all()
    assert set(picked[1::2]) == {0}
    # Even rows: uniform over {0, 2}; 500 draws, 6 standard deviations.
    share = (picked[::2] == 2).mean()
    assert abs(share - 0.5) < 6 * np.sqrt(0.25 / 500)
    np.testing.assert_array_equal(picked, single_label_of(multi.astype(bool),
                                                          seed=0))
    with pytest.raises(ValueError, match='carry no label'):
        single_label_of(np.zeros((3, 2), bool))


def test_cluster_errors_and_sweep(data):
    feats, labels = data
    with pytest.raises(ValueError, match='one cluster per class'):
        cluster(feats, 'prototype', 7, labels=labels)
    with pytest.raises(ValueError, match='needs the class labels'):
        cluster(feats, 'per_label', 10)
    with pytest.raises(ValueError, match='shape'):
        cluster(feats, 'prototype', labels=labels[:-1])
    with pytest.raises(ValueError, match=r'classes \[2\] have no image'):
        cluster(feats, 'prototype', labels=np.where(labels == 2, 1, labels))
    with pytest.raises(ValueError, match='unknown clustering method'):
        cluster(feats, 'dbscan', 5)
    sweep = cluster_sweep(feats, [4, 9], seed=1, num_iters=5)
    assert list(sweep) == [4, 9]
    for k, result in sweep.items():
        single = kmeans(feats, k, seed=1, num_iters=5)
        np.testing.assert_array_equal(result.labels, single.labels)
    with pytest.raises(ValueError, match='twice'):
        cluster_sweep(feats, [4, 4])
