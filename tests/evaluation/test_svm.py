"""VOC07 SVM protocol against straightforward references."""
import numpy as np
import pytest
from sklearn.metrics import average_precision_score
from sklearn.model_selection import cross_val_score
from sklearn.svm import LinearSVC

from cf_mm.evaluation.svm import (VOC07_COSTS, low_shot_svm_map,
                                  multilabel_targets, sample_low_shot_targets,
                                  svm_map, voc_ap)


def reference_voc_ap(scores, targets):
    """The VOC devkit recipe, with explicit loops."""
    pairs = [(s, t) for s, t in zip(scores, targets) if t != -1]
    pairs.sort(key=lambda p: -p[0])
    num_pos = sum(1 for _, t in pairs if t == 1)
    tp = fp = 0
    prec, rec = [], []
    for _, t in pairs:
        tp += t == 1
        fp += t != 1
        prec.append(tp / (tp + fp))
        rec.append(tp / num_pos)
    mrec = [0.0] + rec + [1.0]
    mpre = [0.0] + prec + [0.0]
    for i in range(len(mpre) - 2, -1, -1):
        mpre[i] = max(mpre[i], mpre[i + 1])
    return sum((mrec[i] - mrec[i - 1]) * mpre[i]
               for i in range(1, len(mrec)) if mrec[i] != mrec[i - 1])


def test_standard_cost_list():
    assert len(VOC07_COSTS) == 26
    assert min(VOC07_COSTS) == pytest.approx(1e-7)
    assert max(VOC07_COSTS) == pytest.approx(100)
    assert 2**-19 in VOC07_COSTS and 2**-4 in VOC07_COSTS
    assert 2**-20 not in VOC07_COSTS and 2**-3 not in VOC07_COSTS


def test_voc_ap_known_answers():
    # Ranking: pos, neg, pos -> precision 1 at recall .5, 2/3 at recall 1.
    assert voc_ap([0.9, 0.8, 0.7], [1, 0, 1]) == pytest.approx(5 / 6)
    # An ignored (difficult) sample ranked first changes nothing.
    assert voc_ap([5.0, 0.9, 0.8, 0.7], [-1, 1, 0, 1]) == pytest.approx(5 / 6)
    assert voc_ap([3, 2, 1, 0], [1, 1, 0, 0]) == pytest.approx(1.0)
    assert np.isnan(voc_ap([1, 2], [0, -1]))


def test_voc_ap_matches_reference_on_random_data():
    rng = np.random.default_rng(0)
    for _ in range(20):
        scores = rng.normal(size=60)
        targets = rng.choice([-1, 0, 1], size=60, p=[0.1, 0.6, 0.3])
        if not (targets == 1).any():
            continue
        assert voc_ap(scores, targets) == pytest.approx(
            reference_voc_ap(scores, targets))
        keep = targets != -1
        # Interpolation can only raise AP over sklearn's step-wise AP.
        assert voc_ap(scores, targets) >= average_precision_score(
            targets[keep] == 1, scores[keep]) - 1e-12


def test_multilabel_targets_difficult():
    targets = multilabel_targets([[0, 2], [1], []], 3,
                                 gt_labels_difficult=[[2], [0, 1], [1]])
    np.testing.assert_array_equal(
        targets, [[1, 0, 1], [-1, 1, 0], [0, -1, 0]])
    with pytest.raises(ValueError, match='sample 1'):
        multilabel_targets([[0], [3]], 3)


def _multilabel_data(rng, num, num_classes=3, dim=12, noise=1.0):
    directions = rng.normal(size=(num_classes, dim))
    targets = (rng.random((num, num_classes)) < 0.4).astype(np.int8)
    feats = targets @ directions + noise * rng.normal(size=(num, dim))
    difficult = rng.random(targets.shape) < 0.05
    targets[difficult & (targets == 0)] = -1
    return feats, targets


def test_svm_map_matches_reference_loop():
    """Same protocol written directly with sklearn: same costs, same mAP."""
    rng = np.random.default_rng(1)
    train, train_t = _multilabel_data(rng, 90)
    test, test_t = _multilabel_data(rng, 60)
    costs = [0.01, 0.1, 1.0]
    result = svm_map(train, train_t, test, test_t, costs=costs)

    train_n = train / np.linalg.norm(train, axis=1, keepdims=True)
    test_n = test / np.linalg.norm(test, axis=1, keepdims=True)
    aps, chosen, cv_table = [], [], []
    for cls in range(train_t.shape[1]):
        y = np.where(train_t[:, cls] == 1, 1, -1)  # difficult -> negative
        cv = []
        for cost in costs:
            svm = LinearSVC(C=cost, class_weight={1: 2, -1: 1},
                            dual=True, max_iter=2000, random_state=0)
            # Plain 3 folds in order (stratified, not shuffled), as sklearn
            # makes them for an integer cv and a classifier.
            cv.append(cross_val_score(svm, train_n, y, cv=3,
                                      scoring='average_precision').mean())
        cv_table.append(cv)
        best = costs[int(np.argmax(cv))]
        svm = LinearSVC(C=best, class_weight={1: 2, -1: 1}, dual=True,
                        max_iter=2000, random_state=0).fit(train_n, y)
        chosen.append(best)
        aps.append(reference_voc_ap(svm.decision_function(test_n),
                                    test_t[:, cls]))
    assert result['cost'] == chosen
    assert result['mAP'] == pytest.approx(np.mean(aps) * 100, abs=1e-6)
    np.testing.assert_allclose(result['ap'], np.array(aps) * 100, atol=1e-6)
    # The cross-validated AP of every (class, cost), computed independently.
    np.testing.assert_allclose(result['cv_ap'], cv_table, rtol=1e-9)
    # The choice is not vacuous: CV AP differs between the costs.
    assert np.ptp(np.array(cv_table), axis=1).max() > 0


def test_svm_map_separable_is_perfect():
    rng = np.random.default_rng(2)
    train, train_t = _multilabel_data(rng, 80, noise=0.01)
    test, test_t = _multilabel_data(rng, 40, noise=0.01)
    # Same class directions in train and test: share the generator state.
    rng = np.random.default_rng(3)
    directions = rng.normal(size=(3, 12))
    train = np.maximum(train_t, 0) @ directions + 0.01 * rng.normal(
        size=(80, 12)) + 0.5
    test = np.maximum(test_t, 0) @ directions + 0.01 * rng.normal(
        size=(40, 12)) + 0.5
    result = svm_map(train, train_t, test, test_t, costs=[1.0, 10.0])
    assert result['mAP'] == pytest.approx(100.0)


def test_low_shot_sampling():
    rng = np.random.default_rng(4)
    targets = (rng.random((200, 4)) < 0.3).astype(np.int8)
    targets[0, :] = -1
    sampled = sample_low_shot_targets(targets, 3, np.random.default_rng(0))
    for cls in range(4):
        assert (sampled[:, cls] == 1).sum() == 3
        assert (sampled[:, cls] == 0).sum() == 9
        # Sampled entries keep their true value; difficult never sampled.
        kept = sampled[:, cls] != -1
        np.testing.assert_array_equal(sampled[kept, cls],
                                      targets[kept, cls])
    with pytest.raises(ValueError, match='low-shot k=100'):
        sample_low_shot_targets(targets, 100, np.random.default_rng(0))


def test_low_shot_map_improves_with_k():
    rng = np.random.default_rng(5)
    train, train_t = _multilabel_data(rng, 300, noise=1.5)
    test, test_t = _multilabel_data(rng, 100, noise=1.5)
    rng = np.random.default_rng(6)
    directions = rng.normal(size=(3, 12))
    train = train_t.clip(0) @ directions + 1.5 * rng.normal(size=(300, 12))
    test = test_t.clip(0) @ directions + 1.5 * rng.normal(size=(100, 12))
    result = low_shot_svm_map(train, train_t, test, test_t, k_values=(1, 32),
                              num_samples=3, costs=[0.1, 1.0])
    assert set(result) == {1, 32}
    assert len(result[1]['samples']) == 3
    assert result[32]['mAP'] > result[1]['mAP']
    fixed = low_shot_svm_map(train, train_t, test, test_t, k_values=(4, ),
                             num_samples=2, cost_selection=0.5)
    assert fixed[4]['cost'] == [0.5, 0.5]
