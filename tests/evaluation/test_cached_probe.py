"""Cached-feature linear probe against a float64 numpy reference."""
import numpy as np
import pytest

from cf_mm.evaluation.cached_probe import (COMPRESS_PROTOCOL,
                                           apply_normalization,
                                           fit_linear_classifier,
                                           fit_normalization, topk_accuracy,
                                           train_linear_probe,
                                           train_logistic_regression)


def _reference_sgd(x, y, num_classes, epochs, lr, momentum, wd, milestones,
                   gamma, cosine=False):
    """Full-batch SGD with momentum and weight decay, torch's update rule
    (v = mu v + g + wd w; w -= lr v), softmax cross-entropy, float64."""
    x = x.astype(np.float64)
    w = np.zeros((num_classes, x.shape[1]))
    b = np.zeros(num_classes)
    vw, vb = np.zeros_like(w), np.zeros_like(b)
    onehot = np.eye(num_classes)[y]
    for epoch in range(epochs):
        if cosine:
            rate = lr * (1 + np.cos(np.pi * epoch / epochs)) / 2
        else:
            rate = lr * gamma**sum(epoch >= m for m in milestones)
        logits = x @ w.T + b
        logits -= logits.max(1, keepdims=True)
        prob = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
        grad = (prob - onehot) / len(x)
        gw, gb = grad.T @ x + wd * w, grad.sum(0) + wd * b
        if epoch == 0:
            vw, vb = gw, gb
        else:
            vw, vb = momentum * vw + gw, momentum * vb + gb
        w, b = w - rate * vw, b - rate * vb
    return w, b


def test_fit_matches_reference_sgd():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(90, 7)).astype(np.float32)
    y = rng.integers(0, 3, 90)
    w, b, _ = fit_linear_classifier(x, y, 3, epochs=6, lr=0.5, momentum=0.9,
                                    weight_decay=0.01, milestones=(3, 5),
                                    gamma=0.1, batch_size=90)
    ref_w, ref_b = _reference_sgd(x, y, 3, 6, 0.5, 0.9, 0.01, (3, 5), 0.1)
    np.testing.assert_allclose(w, ref_w, atol=2e-5)
    np.testing.assert_allclose(b, ref_b, atol=2e-5)


def test_cosine_schedule_matches_reference_sgd():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(60, 5)).astype(np.float32)
    y = rng.integers(0, 4, 60)
    w, b, _ = fit_linear_classifier(x, y, 4, epochs=5, lr=0.3, momentum=0.9,
                                    weight_decay=5e-4, batch_size=60,
                                    schedule='cosine')
    ref_w, ref_b = _reference_sgd(x, y, 4, 5, 0.3, 0.9, 5e-4, (), 0.1,
                                  cosine=True)
    np.testing.assert_allclose(w, ref_w, atol=2e-5)
    np.testing.assert_allclose(b, ref_b, atol=2e-5)
    with pytest.raises(ValueError, match='schedule must be one of'):
        fit_linear_classifier(x, y, 4, schedule='linear')


def _objective_gradient(x, y, w, b, C):
    """Gradient of C * sum CE + ||w||^2 / 2 (float64, explicit softmax)."""
    x = x.astype(np.float64)
    logits = x @ w.T + b
    logits -= logits.max(1, keepdims=True)
    prob = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    residual = prob - np.eye(w.shape[0])[y]
    return C * residual.T @ x + w, C * residual.sum(0)


def test_logistic_regression_reaches_the_optimum():
    rng = np.random.default_rng(4)
    centers = rng.normal(size=(3, 6))
    y_train, y_test = rng.integers(0, 3, 300), rng.integers(0, 3, 100)
    x_train = centers[y_train] + rng.normal(size=(300, 6))
    x_test = centers[y_test] + rng.normal(size=(100, 6))
    result = train_logistic_regression(x_train, y_train, x_test, y_test,
                                       normalize='none',
                                       weight_decay=1 / (0.5 * 300))
    assert result['converged'] == 1.0
    # The optimum of the penalised objective: its gradient vanishes there.
    from sklearn.linear_model import LogisticRegression
    model = LogisticRegression(C=0.5, max_iter=2000, tol=1e-6).fit(
        x_train, y_train)
    grad_w, grad_b = _objective_gradient(x_train, y_train, model.coef_,
                                         model.intercept_, 0.5)
    assert np.abs(grad_w).max() < 1e-3 and np.abs(grad_b).max() < 1e-3
    # ... and the reported accuracies are those of that classifier.
    pred = (x_test @ model.coef_.T + model.intercept_).argmax(1)
    assert result['top1'] == pytest.approx((pred == y_test).mean() * 100)
    # Two classes: sklearn keeps one row of weights; predictions still match.
    binary = y_train < 2
    two = train_logistic_regression(x_train[binary], y_train[binary],
                                    x_test, np.minimum(y_test, 1),
                                    normalize='none',
                                    weight_decay=1 / (0.5 * binary.sum()))
    model2 = LogisticRegression(C=0.5, max_iter=2000, tol=1e-6).fit(
        x_train[binary], y_train[binary])
    assert two['top1'] == pytest.approx(
        (model2.predict(x_test) == np.minimum(y_test, 1)).mean() * 100)
    # SGD on the same objective (weight decay = 1 / (C N)) approaches it.
    sgd = train_linear_probe(x_train, y_train, x_test, y_test,
                             normalize='none', epochs=300, lr=0.1,
                             weight_decay=1 / (0.5 * 300), milestones=(),
                             batch_size=300)
    assert abs(sgd['top1'] - result['top1']) <= 2.0


def test_normalization_matches_explicit_computation():
    rng = np.random.default_rng(1)
    train = rng.normal(3, 2, size=(50, 6)).astype(np.float32)
    test = rng.normal(3, 2, size=(20, 6)).astype(np.float32)
    mean, inv_std = fit_normalization(train, 'l2+standardize')
    unit = train.astype(np.float64) / np.sqrt(
        (train.astype(np.float64)**2).sum(1, keepdims=True))
    ref_mean = unit.mean(0)
    ref_std = np.sqrt(((unit - ref_mean)**2).mean(0) + 1e-5)
    unit_test = test / np.sqrt((test.astype(np.float64)**2).sum(1,
                                                                keepdims=True))
    np.testing.assert_allclose(
        apply_normalization(test, 'l2+standardize', mean, inv_std),
        (unit_test - ref_mean) / ref_std, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(apply_normalization(test, 'l2', None, None),
                               unit_test, rtol=1e-5)
    assert fit_normalization(train, 'none') == (None, None)
    with pytest.raises(ValueError, match='normalize must be one of'):
        fit_normalization(train, 'pca')


def test_probe_separates_classes_and_counts_topk():
    rng = np.random.default_rng(2)
    centers = rng.normal(size=(4, 16)) * 3
    y_train, y_test = rng.integers(0, 4, 400), rng.integers(0, 4, 200)
    x_train = centers[y_train] + rng.normal(size=(400, 16))
    x_test = centers[y_test] + rng.normal(size=(200, 16))
    result = train_linear_probe(x_train, y_train, x_test, y_test,
                                **COMPRESS_PROTOCOL)
    assert result['top1'] == 100.0 and result['train_top1'] == 100.0
    assert 'top5' not in result  # k above the number of classes skipped
    scores = np.array([[0.1, 0.5, 0.4], [0.9, 0.05, 0.05]])
    assert topk_accuracy(scores, np.array([2, 0]), (1, 2)) == {
        'top1': 50.0, 'top2': 100.0}
    with pytest.raises(ValueError, match='labels must have shape'):
        train_linear_probe(x_train, y_train[:-1], x_test, y_test)
