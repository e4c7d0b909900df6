"""sklearn's ConvergenceWarnings of the VOC07 SVMs, counted per cost and
said once (issue 23, item 7), against fits re-run with sklearn directly."""
import logging
import warnings

import numpy as np
from mmengine.logging import MMLogger
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import StratifiedKFold
from sklearn.svm import LinearSVC

from cf_mm.evaluation.svm import ConvergenceTally, low_shot_svm_map, svm_map
from tests.evaluation.test_tools import run_tool

COSTS = [0.001, 10.0, 100.0]
MAX_ITER = 3


def _data(seed, num=60, num_classes=2, dim=10):
    rng = np.random.default_rng(seed)
    directions = rng.normal(size=(num_classes, dim))
    targets = np.zeros((num, num_classes), dtype=np.int8)
    targets[np.arange(num), np.arange(num) % num_classes] = 1
    feats = targets @ directions + 1.5 * rng.normal(size=(num, dim))
    return feats, targets


def _stops_at_max_iter(x, y, cost) -> bool:
    svm = LinearSVC(C=cost, class_weight={1: 2, -1: 1}, dual=True,
                    max_iter=MAX_ITER, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', ConvergenceWarning)
        svm.fit(x, y)
    return svm.n_iter_ >= MAX_ITER


class _Records(logging.Handler):
    """Warnings and errors of a logger (its per-class INFO lines show
    whenever an earlier test or tool has set the level to INFO)."""

    def __init__(self):
        super().__init__(logging.WARNING)
        self.records = []

    def emit(self, record):
        self.records.append(record)


def test_svm_map_counts_non_converged_fits_per_cost():
    train, train_t = _data(0)
    test, test_t = _data(1)
    handler = _Records()
    logging.getLogger('cf_mm.evaluation.svm').addHandler(handler)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter('always')
            result = svm_map(train, train_t, test, test_t, costs=COSTS,
                             max_iter=MAX_ITER)
    finally:
        logging.getLogger('cf_mm.evaluation.svm').removeHandler(handler)
    assert not [w for w in caught
                if issubclass(w.category, ConvergenceWarning)]

    # The same fits, run directly: 3 folds per cost and class, then the
    # chosen cost on all training data.
    x = train / np.linalg.norm(train, axis=1, keepdims=True)
    expected, fits = {}, 0
    for cls in range(train_t.shape[1]):
        y = np.where(train_t[:, cls] == 1, 1, -1)
        for cost in COSTS:
            for fold, _ in StratifiedKFold(3).split(x, y):
                fits += 1
                expected[cost] = expected.get(cost, 0) + _stops_at_max_iter(
                    x[fold], y[fold], cost)
        fits += 1
        chosen = result['cost'][cls]
        expected[chosen] += _stops_at_max_iter(x, y, chosen)
    expected = {cost: num for cost, num in expected.items() if num}
    assert expected, 'the data must make some fits stop at max_iter'
    assert result['not_converged'] == expected
    # One warning line for the call, with the count and the costs.
    assert len(handler.records) == 1
    line = handler.records[0].getMessage()
    assert line.startswith(f'{sum(expected.values())} of {fits} LinearSVC '
                           f'fits stopped at max_iter={MAX_ITER}')
    for cost, num in expected.items():
        assert f'C={cost:g} ({num})' in line


def test_shared_tally_and_low_shot():
    """Low-shot fits are counted too; a shared tally sums the calls and
    the calls log nothing themselves."""
    train, train_t = _data(2, num=40)
    test, test_t = _data(3)
    tally = ConvergenceTally()
    handler = _Records()
    logging.getLogger('cf_mm.evaluation.svm').addHandler(handler)
    try:
        first = svm_map(train, train_t, test, test_t, costs=COSTS,
                        max_iter=MAX_ITER, tally=tally)
        low_shot_svm_map(train, train_t, test, test_t, k_values=(4, ),
                         num_samples=1, costs=COSTS, max_iter=MAX_ITER,
                         tally=tally)
    finally:
        logging.getLogger('cf_mm.evaluation.svm').removeHandler(handler)
    assert handler.records == []
    # svm_map: 2 classes x 3 costs x 3 folds + 2 final fits; low-shot:
    # 2 classes x 3 costs.
    assert tally.fits == 2 * 3 * 3 + 2 + 2 * 3
    for cost, num in first['not_converged'].items():
        assert tally.not_converged[cost] >= num
    assert ConvergenceTally().summary(MAX_ITER) is None


def test_eval_svm_says_it_in_one_line(tmp_path):
    """The tool: no ConvergenceWarning reaches the console, one log line
    sums them, and the record of each layer keeps its counts."""
    for split, seed in (('train', 4), ('test', 5)):
        feats, targets = _data(seed)
        np.save(tmp_path / f'{split}_res5.npy', feats.astype(np.float32))
        np.save(tmp_path / f'{split}_labels.npy', targets.argmax(1))
    logger = MMLogger.get_instance('eval_svm', log_level='INFO')
    handler = _Records()
    logger.addHandler(handler)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter('always')
            run_tool('eval_svm.py', [
                '--feature-dir', tmp_path, '--costs', '0.001,10,100',
                '--max-iter', MAX_ITER, '--out', tmp_path / 'svm.json'])
    finally:
        logger.removeHandler(handler)
    assert not [w for w in caught
                if issubclass(w.category, ConvergenceWarning)]
    lines = [r.getMessage() for r in handler.records
             if 'ConvergenceWarning' in r.getMessage()]
    assert len(lines) == 1 and 'LinearSVC fits stopped at max_iter=3' in \
        lines[0]
    import json
    record = json.load(open(tmp_path / 'svm.json'))
    records = record['records'] if isinstance(record, dict) else record
    counts = [r['not_converged'] for r in records if r['metric'] == 'mAP']
    assert counts and sum(sum(c.values()) for c in counts) == int(
        lines[0].split()[0])
