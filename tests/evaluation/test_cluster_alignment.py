"""Cluster alignment against a brute-force mapping."""
import itertools

import numpy as np
import pytest

from cf_mm.evaluation.cluster_alignment import (alignment_matrix,
                                                cluster_alignment,
                                                match_clusters_to_classes)


def brute_force_mapping(cluster_ids, labels, num):
    """Try every one-to-one mapping; keep the best total precision."""
    best, best_total = None, -1
    for perm in itertools.permutations(range(num)):
        total = 0.0
        for cluster in range(num):
            members = labels[cluster_ids == cluster]
            if len(members):
                total += np.mean(members == perm[cluster])
        if total > best_total + 1e-12:
            best, best_total = perm, total
    return np.array(best), best_total


def test_hungarian_matches_brute_force_on_random_data():
    rng = np.random.default_rng(0)
    for trial in range(10):
        num = 5
        labels = rng.integers(0, num, 80)
        cluster_ids = np.where(rng.random(80) < 0.5, (labels + trial) % num,
                               rng.integers(0, num, 80))
        alignment = alignment_matrix(cluster_ids, labels, num, num)
        mapping = match_clusters_to_classes(alignment)
        _, best_total = brute_force_mapping(cluster_ids, labels, num)
        assert sorted(mapping.tolist()) == list(range(num))
        total = alignment[np.arange(num), mapping].sum()
        assert total == pytest.approx(best_total)


def test_alignment_is_precision():
    cluster_ids = np.array([0, 0, 0, 1, 1, 2])
    labels = np.array([1, 1, 0, 0, 0, 2])
    alignment = alignment_matrix(cluster_ids, labels, 4, 3)
    np.testing.assert_allclose(alignment,
                               [[1 / 3, 2 / 3, 0], [1, 0, 0], [0, 0, 1],
                                [0, 0, 0]])  # cluster 3 empty
    mapping = match_clusters_to_classes(alignment)
    # 4 clusters, 3 classes: one cluster stays unmatched.
    assert (mapping == -1).sum() == 1
    assert mapping[:3].tolist() == [1, 0, 2]


def test_known_answer_well_separated_classes():
    """Classes are tight, separated clusters: k-means recovers them (with
    some permutation of ids), the Hungarian step undoes the permutation."""
    rng = np.random.default_rng(1)
    num_classes, dim = 6, 16
    centres = np.eye(num_classes, dim) * 5
    train_labels = rng.permutation(np.repeat(np.arange(num_classes), 50))
    test_labels = rng.integers(0, num_classes, 70)
    train = centres[train_labels] + rng.normal(scale=0.05, size=(300, dim))
    test = centres[test_labels] + rng.normal(scale=0.05, size=(70, dim))
    result = cluster_alignment(train, train_labels, test, test_labels,
                               nredo=3)
    assert result['accuracy'] == 100.0
    assert result['train_accuracy'] == 100.0
    assert sorted(result['mapping']) == list(range(num_classes))


def test_random_labels_score_low_and_bad_input():
    rng = np.random.default_rng(2)
    feats = rng.normal(size=(400, 8))
    labels = rng.integers(0, 4, 400)
    result = cluster_alignment(feats[:300], labels[:300], feats[300:],
                               labels[300:])
    assert result['accuracy'] < 50  # chance is 25 %
    with pytest.raises(ValueError, match='num_clusters'):
        cluster_alignment(feats[:3], labels[:3], feats, labels,
                          num_clusters=4)
    with pytest.raises(ValueError, match='test_labels'):
        cluster_alignment(feats, labels, feats, labels[:10])
