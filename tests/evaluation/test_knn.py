"""kNN classification against a plain-numpy reference."""
import numpy as np
import pytest

from cf_mm.evaluation.knn import knn_accuracy, knn_predict


def reference_knn(train, train_labels, test, k, weighting, temperature,
                  num_classes):
    """One query at a time, full sort, explicit loops."""
    train = train / np.linalg.norm(train, axis=1, keepdims=True)
    test = test / np.linalg.norm(test, axis=1, keepdims=True)
    preds = []
    for query in test:
        sims = train @ query
        nearest = np.argsort(-sims, kind='stable')[:k]
        scores = np.zeros(num_classes)
        if weighting == 'weighted':
            for j in nearest:
                scores[train_labels[j]] += np.exp(sims[j] / temperature)
            preds.append(int(np.argmax(scores)))
        else:
            votes = np.zeros(num_classes)
            summed = np.zeros(num_classes)
            for j in nearest:
                votes[train_labels[j]] += 1
                summed[train_labels[j]] += sims[j]
            best = max(range(num_classes), key=lambda c: (votes[c], summed[c]))
            preds.append(best)
    return np.array(preds)


def decision_margins(train, train_labels, test, k, weighting, temperature,
                     num_classes):
    """Per query, in float64: the gap between the k-th and (k+1)-th
    similarity (which neighbours are in) and the relative gap between the
    two best class scores (which class wins)."""
    train = train / np.linalg.norm(train, axis=1, keepdims=True)
    test = test / np.linalg.norm(test, axis=1, keepdims=True)
    margins = []
    for query in test:
        sims = np.sort(train @ query)[::-1]
        neighbour_gap = sims[k - 1] - sims[k] if k < len(sims) else np.inf
        order = np.argsort(-(train @ query), kind='stable')[:k]
        scores = np.zeros(num_classes)
        for j in order:
            sim = float(train[j] @ query)
            # Majority: votes first, the summed similarity breaks ties.
            scores[train_labels[j]] += (np.exp(sim / temperature)
                                        if weighting == 'weighted' else
                                        (2 * k + 1) + sim)
        top2 = np.sort(scores)[::-1][:2]
        margins.append((neighbour_gap, (top2[0] - top2[1]) / abs(top2[0])))
    return np.array(margins)


@pytest.mark.parametrize('weighting,k', [('weighted', 20), ('weighted', 1),
                                         ('majority', 1), ('majority', 7)])
def test_matches_reference_on_random_data(weighting, k):
    rng = np.random.default_rng(0)
    num_classes = 6
    train = rng.normal(size=(300, 16)).astype(np.float32)
    labels = rng.integers(0, num_classes, 300)
    test = rng.normal(size=(97, 16)).astype(np.float32)
    preds, _ = knn_predict(train, labels, test, k=k, weighting=weighting,
                           temperature=0.1, num_classes=num_classes,
                           chunk_size=10, topk=1)
    expected = reference_knn(train, labels, test, k, weighting, 0.1,
                             num_classes)
    # float32 (faiss) and float64 similarities (errors ~1e-7) could only
    # disagree on a near-tie; these data have none, so every query agrees.
    margins = decision_margins(train.astype(np.float64), labels,
                               test.astype(np.float64), k, weighting, 0.1,
                               num_classes)
    assert margins.min() > 1e-6
    np.testing.assert_array_equal(preds[:, 0], expected)


def test_chunking_does_not_change_results():
    rng = np.random.default_rng(1)
    train = rng.normal(size=(200, 8))
    labels = rng.integers(0, 4, 200)
    test = rng.normal(size=(50, 8))
    a = knn_predict(train, labels, test, k=15, chunk_size=7)
    b = knn_predict(train, labels, test, k=15, chunk_size=1000)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_allclose(a[1], b[1], rtol=1e-6)


def test_known_answer_separated_clusters():
    """Tight clusters around orthogonal directions: kNN is perfect, and a
    query placed on a class direction gets that class."""
    rng = np.random.default_rng(2)
    centres = np.eye(5, 32) * 10
    labels = np.repeat(np.arange(5), 40)
    train = centres[labels] + rng.normal(scale=0.1, size=(200, 32))
    test_labels = np.array([3, 0, 4, 1, 2, 2])
    test = centres[test_labels] + rng.normal(scale=0.1, size=(6, 32))
    for weighting in ('weighted', 'majority'):
        acc = knn_accuracy(train, labels, test, test_labels, k=200,
                           weighting=weighting, topk=(1, ))
        assert acc == {'top1': 100.0}
    # 1-NN with the train set itself: each point is its own neighbour.
    assert knn_accuracy(train, labels, train, labels, k=1,
                        weighting='majority')['top1'] == 100.0


def test_majority_tie_goes_to_more_similar_class():
    train = np.array([[1.0, 0.0], [0.0, 1.0]])
    labels = np.array([1, 0])
    query = np.array([[0.9, 0.1]])  # closer to the class-1 sample
    preds, _ = knn_predict(train, labels, query, k=2, weighting='majority',
                           topk=2)
    assert preds[0].tolist() == [1, 0]


def reference_top5_hits(train, train_labels, test, test_labels, k,
                        temperature, num_classes):
    """Weighted-vote class scores with explicit loops; a hit when the true
    class is among the 5 best (equal scores: lower class index first)."""
    train = train / np.linalg.norm(train, axis=1, keepdims=True)
    test = test / np.linalg.norm(test, axis=1, keepdims=True)
    hits = 0
    for query, truth in zip(test, test_labels):
        sims = train @ query
        scores = [0.0] * num_classes
        for j in np.argsort(-sims, kind='stable')[:k]:
            scores[train_labels[j]] += np.exp(sims[j] / temperature)
        ranked = sorted(range(num_classes), key=lambda c: (-scores[c], c))
        hits += truth in ranked[:5]
    return 100.0 * hits / len(test)


def test_top5_matches_reference_and_bad_input():
    rng = np.random.default_rng(3)
    train = rng.normal(size=(100, 4))
    labels = rng.integers(0, 10, 100)
    test = rng.normal(size=(60, 4))
    test_labels = rng.integers(0, 10, 60)
    acc = knn_accuracy(train, labels, test, test_labels, k=10, topk=(1, 5),
                       temperature=0.1, num_classes=10)
    assert acc['top5'] == reference_top5_hits(train, labels, test,
                                              test_labels, 10, 0.1, 10)
    expected_top1 = reference_knn(train, labels, test, 10, 'weighted', 0.1,
                                  10)
    assert acc['top1'] == 100.0 * (expected_top1 == test_labels).mean()
    # Each training point is its own nearest neighbour (similarity 1):
    # 1-NN on the training set itself is exact.
    assert knn_accuracy(train, labels, train, labels, k=1,
                        weighting='majority', topk=(1, )) == {'top1': 100.0}
    with pytest.raises(ValueError, match='train_labels'):
        knn_predict(train, labels[:-1], train)
    with pytest.raises(ValueError, match='dims'):
        knn_predict(train, labels, train[:, :3])
    with pytest.raises(ValueError, match='weighting'):
        knn_predict(train, labels, train, weighting='cosine')
