"""Seed statistics against scipy and hand computations."""
import math

import numpy as np
import pytest
from scipy import stats as sps

from cf_mm.evaluation.report import (best_layer_table, difference_sentences,
                                     difference_table, paired_differences,
                                     to_csv, to_markdown)
from cf_mm.evaluation.stats import (paired_difference, t_interval,
                                    sampling_limit, verdict)


@pytest.mark.parametrize('values', [[81.4, 82.0, 80.2],
                                    [1.0, 2.0, 4.0, 8.0, 16.0],
                                    [50.0, 50.0]])
def test_t_interval_matches_scipy(values):
    got = t_interval(values)
    x = np.asarray(values, dtype=np.float64)
    sem = sps.sem(x) if x.std() > 0 else 0.0
    if sem > 0:
        low, high = sps.t.interval(0.95, len(x) - 1, loc=x.mean(), scale=sem)
    else:
        low = high = x.mean()
    assert got.n == len(values)
    assert got.mean == pytest.approx(x.mean(), abs=1e-12)
    assert got.low == pytest.approx(low, abs=1e-9)
    assert got.high == pytest.approx(high, abs=1e-9)
    assert got.sd == pytest.approx(x.std(ddof=1), abs=1e-12)


def test_t_interval_known_answer_and_single_value():
    # n = 3, sd = 1: half-width = t(0.975, 2) / sqrt(3) = 4.302653 / 1.732051
    got = t_interval([1.0, 2.0, 3.0])
    assert got.half_width == pytest.approx(4.302652729911275 / math.sqrt(3))
    one = t_interval([7.0])
    assert one.mean == 7.0 and one.n == 1 and math.isnan(one.half_width)
    assert not one.excludes_zero
    with pytest.raises(ValueError, match='non-finite'):
        t_interval([1.0, float('nan')])


def test_paired_difference_matches_scipy_ttest_rel():
    a = {0: 45.1, 1: 47.3, 2: 44.0, 3: 46.2}
    b = {0: 41.0, 1: 44.9, 2: 42.5, 3: 42.0, 9: 99.0}  # seed 9: unpaired
    got = paired_difference(a, b)
    xa = np.array([a[s] for s in range(4)])
    xb = np.array([b[s] for s in range(4)])
    ref = sps.ttest_rel(xa, xb)
    ci = ref.confidence_interval(0.95)
    assert got.n == 4
    assert got.mean == pytest.approx(np.mean(xa - xb))
    assert (got.low, got.high) == pytest.approx((ci.low, ci.high))
    assert got.excludes_zero == (ref.pvalue < 0.05)
    with pytest.raises(ValueError, match='no common seed'):
        paired_difference({0: 1.0}, {1: 1.0})


def test_significance_agrees_with_ttest_on_random_pairs():
    rng = np.random.default_rng(0)
    for _ in range(200):
        n = int(rng.integers(2, 6))
        a = rng.normal(0.5, 1.0, n)
        b = rng.normal(0.0, 1.0, n)
        got = paired_difference(dict(enumerate(a)), dict(enumerate(b)))
        assert got.excludes_zero == (sps.ttest_rel(a, b).pvalue < 0.05)


def test_sampling_limit_hand_computed():
    # 1.959964 * sqrt(2 * 0.5 * 0.5 / 10000) = 0.013859
    assert sampling_limit(50.0, 10000) == pytest.approx(1.385904, abs=1e-5)
    assert sampling_limit(80.0, 300) == pytest.approx(
        100 * 1.959963984540054 * math.sqrt(2 * 0.16 / 300))
    assert verdict(t_interval([1.0])) == 'one seed'


def _recs(method, values, target='vehicles', layer='res5', **tags):
    return [dict(method=method, target=target, layer=layer, metric='top1',
                 value=v, seed=s, n_test=2000, **tags)
            for s, v in enumerate(values)]


def test_tables_average_seeds_and_pair_differences():
    records = (_recs('N_pre', [40.0, 42.0, 41.0]) +
               _recs('N_pre', [30.0, 31.0, 29.0], layer='res4') +
               _recs('N_cf', [45.0, 46.5, 44.0]) +
               _recs('N_cf', [50.0, 10.0, 12.0], layer='res4'))
    table = best_layer_table(records)
    # best layer by the mean: N_cf res5 (45.17) beats res4 (24.0)
    assert table['cells'][('N_cf', 'vehicles')] == (
        pytest.approx(np.mean([45.0, 46.5, 44.0])), 'res5')
    interval = table['intervals'][('N_cf', 'vehicles')]
    assert interval.n == 3
    assert interval.half_width == pytest.approx(
        sps.t.ppf(0.975, 2) * np.std([45.0, 46.5, 44.0], ddof=1) / 3**0.5)
    md = to_markdown(table)
    assert f'45.2 ± {interval.half_width:.1f} (res5)' in md
    assert 'vehicles_ci95' in to_csv(table).splitlines()[0]
    rows = paired_differences(records, 'N_cf', 'N_pre')
    by_layer = {r['layer']: r for r in rows}
    d5 = np.array([45.0, 46.5, 44.0]) - np.array([40.0, 42.0, 41.0])
    assert by_layer['res5']['difference'].mean == pytest.approx(d5.mean())
    ci = sps.ttest_rel([45.0, 46.5, 44.0], [40.0, 42.0, 41.0]) \
        .confidence_interval(0.95)
    assert by_layer['res5']['difference'].low == pytest.approx(ci.low)
    assert by_layer['res5']['test_limit'] == pytest.approx(
        sampling_limit((np.mean([45.0, 46.5, 44.0]) + 41.0) / 2, 2000))
    text = difference_table([by_layer['res5']])
    assert f'**+{d5.mean():.1f} [{ci.low:.1f}, {ci.high:.1f}]**' in text
    assert 'Smallest detectable difference' in text
    sentences = difference_sentences(rows, 'linear top-1')
    assert any('res5' in s and ': significant' in s for s in sentences)
    assert any('res4' in s and 'not significant' in s
               and 'smallest detectable' in s for s in sentences)


def test_paired_differences_match_keys_and_duplicates():
    records = (_recs('x', [1.0, 2.0], series='N_cf', noise=0) +
               _recs('y', [3.0, 5.0], series='N_cf', noise=50) +
               _recs('z', [0.0, 1.0], series='N_pre', noise=0) +
               _recs('w', [1.0, 1.0], series='N_pre', noise=50))
    rows = paired_differences(records, 'N_cf', 'N_pre', field='series',
                              match=['noise'])
    got = {r['match']['noise']: r['difference'].mean for r in rows}
    assert got == {0: pytest.approx(1.0), 50: pytest.approx(3.0)}
    with pytest.raises(ValueError, match='two figures'):
        paired_differences(records, 'N_cf', 'N_pre', field='series')
    with pytest.raises(ValueError, match='same figure and seed'):
        best_layer_table(records + records[:1])
